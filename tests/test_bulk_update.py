"""helpdesk.bulk.update writes the rows Django's own `bulk_update` writes: the reference is the
same changes made to twin rows, written by `bulk_update` and read back from the database."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendars.models import Appointment, Schedule
from helpdesk import bulk
from integrations.models import AgentCalendar, Connection, SyncLink
from tests.test_bulk import _appointments, _rows

pytestmark = pytest.mark.django_db

FIELDS = [
    "subject",
    "start",
    "end",
    "start_date",
    "end_date",
    "all_day",
    "busy",
    "reminder_minutes",
    "other_attendees",
    "sequence",
]


def _change(appointments: list[Appointment]) -> None:
    first, second = appointments
    first.subject, first.start, first.end = "Moved, ünïcode ' quote", first.start + timedelta(hours=2), first.end
    first.end = first.start + timedelta(minutes=45)
    first.reminder_minutes, first.other_attendees, first.sequence = None, ["b@example.com", "c@example.com"], 3
    second.all_day, second.start_date, second.end_date = False, None, None
    second.busy, second.other_attendees, second.sequence = True, [], 1


def test_updated_appointments_read_back_as_bulk_update_writes_them():
    theirs, ours = bulk.insert(_appointments()), bulk.insert(_appointments())
    _change(theirs)
    _change(ours)

    Appointment.objects.bulk_update(theirs, FIELDS)
    assert bulk.update(ours, FIELDS) == 2

    assert _rows(Appointment, [a.pk for a in ours]) == _rows(Appointment, [a.pk for a in theirs])
    assert _rows(Appointment, [a.pk for a in ours])[0]["subject"] == "Moved, ünïcode ' quote"


def test_many_rows_take_the_statements_bulk_update_takes_and_read_back_alike():
    base = datetime(2026, 12, 1, 8, tzinfo=UTC)

    def rows(prefix: str) -> list[Appointment]:
        made = [
            Appointment(
                subject=f"{prefix} {n}", start=base + timedelta(hours=n), end=base + timedelta(hours=n, minutes=30)
            )
            for n in range(300)
        ]
        bulk.insert(made)
        for n, appointment in enumerate(made):
            appointment.subject = f"{prefix} changed {n}"
            appointment.end = appointment.start + timedelta(minutes=n % 50 + 1)
            appointment.updated_at = timezone.now()
        return made

    theirs, ours = rows("theirs"), rows("ours")
    fields = ["subject", "end", "updated_at"]
    with CaptureQueriesContext(connection) as reference:
        Appointment.objects.bulk_update(theirs, fields)
    with CaptureQueriesContext(connection) as written:
        assert bulk.update(ours, fields) == 300

    assert len(written.captured_queries) <= len(reference.captured_queries)
    read = Appointment.objects.filter(pk__in=[a.pk for a in ours]).order_by("pk").values_list("subject", "end")
    reference_rows = Appointment.objects.filter(pk__in=[a.pk for a in theirs]).order_by("pk")
    assert [(s.replace("ours", "theirs"), e) for s, e in read] == list(reference_rows.values_list("subject", "end"))


def test_links_with_sealed_snapshots_read_back_as_bulk_update_writes_them(alice):
    connection_row = Connection.objects.create(name="R", kind="caldav", server_url="http://127.0.0.1:1/")
    agent_calendar = AgentCalendar.objects.create(agent=alice, connection=connection_row, calendar_id="/c/")

    def links(prefix: str) -> list[SyncLink]:
        made = bulk.insert(
            [
                SyncLink(agent_calendar=agent_calendar, marker=prefix + "1", remote_id="/c/1.ics"),
                SyncLink(agent_calendar=agent_calendar, marker=prefix + "2", pending=True, failures=2),
            ]
        )
        made[0].snapshot = {"remote": {"subject": "secret", "private": True}, "remote_raw": "BEGIN:VCALENDAR"}
        made[1].snapshot = {"remote": {"subject": "open"}, "local": None}
        for link in made:
            link.pending, link.failures, link.next_attempt_at = False, 0, None
            link.last_synced_at = datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)
            link.span_start, link.span_end = link.last_synced_at, None
        return made

    fields = ["snapshot", "pending", "failures", "next_attempt_at", "last_synced_at", "span_start", "span_end"]
    theirs, ours = links("a"), links("b")
    SyncLink.objects.bulk_update(theirs, fields)
    bulk.update(ours, fields)

    def read(made):
        return list(SyncLink.objects.filter(pk__in=[link.pk for link in made]).order_by("pk").values(*fields))

    assert read(ours) == read(theirs)
    assert read(ours)[0]["snapshot"]["remote"]["subject"] == "secret"


def test_a_row_the_database_refuses_raises_its_error_and_writes_nothing():
    made = bulk.insert(_appointments())
    made[0].end = made[0].start - timedelta(hours=1)  # the CHECK that an entry ends after it starts
    made[1].subject = "Not written either"
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.update(made, ["subject", "end"])
    assert set(Appointment.objects.values_list("subject", flat=True)) == {"Visit, with ünïcode", "All day"}


def test_dates_and_none_are_written_as_bulk_update_writes_them():
    theirs, ours = bulk.insert(_appointments()), bulk.insert(_appointments())
    for appointment in (theirs[0], ours[0]):
        appointment.all_day, appointment.start_date, appointment.end_date = True, date(2026, 12, 2), date(2026, 12, 3)
    Appointment.objects.bulk_update(theirs, ["all_day", "start_date", "end_date", "reminder_minutes"])
    bulk.update(ours, ["all_day", "start_date", "end_date", "reminder_minutes"])
    assert _rows(Appointment, [a.pk for a in ours]) == _rows(Appointment, [a.pk for a in theirs])


def test_schedules_horizon_and_future_edits_are_written_as_bulk_update_writes_them():
    """What `materialise_new_series` writes on a batch of new series' schedules."""
    theirs, ours = (
        [
            Schedule.objects.create(master=master, recurrence="RRULE:FREQ=WEEKLY", time_zone="Europe/Amsterdam")
            for master in bulk.insert(_appointments())
        ]
        for _twin in range(2)
    )
    for schedules in (theirs, ours):
        schedules[0].materialised_until = datetime(2027, 12, 1, 8, tzinfo=UTC)
        schedules[0].future_exceptions = [{"original_start": "2027-12-08T08:00:00+00:00", "subject": "Moved ü"}]
        schedules[1].materialised_until, schedules[1].future_exceptions = None, []
    Schedule.objects.bulk_update(theirs, ["materialised_until", "future_exceptions"])
    assert bulk.update(ours, ["materialised_until", "future_exceptions"]) == 2
    read = [
        list(
            Schedule.objects.filter(pk__in=[s.pk for s in twin])
            .order_by("pk")
            .values_list("materialised_until", "future_exceptions")
        )
        for twin in (theirs, ours)
    ]
    assert read[0] == read[1]
    assert read[1][0] == (
        datetime(2027, 12, 1, 8, tzinfo=UTC),
        [{"original_start": "2027-12-08T08:00:00+00:00", "subject": "Moved ü"}],
    )
