"""A series shortened on the phone (an earlier UNTIL) that keeps its RECURRENCE-ID and EXDATE for
days beyond the new end (trial fault 6), on a real Radicale. RFC 5545 3.8.5.1 and 3.8.4.4: an
EXDATE or RECURRENCE-ID names an instance of the set the rule gives, so one beyond the new end
names nothing; README: "Whichever way a rule changes (... an external calendar), occurrences
cancelled or moved on their own that the new rule still gives keep their state and those it no
longer gives go". The starts the shortened rule gives come from dateutil."""

from datetime import UTC, timedelta

import icalendar
import pytest
from dateutil import rrule
from django.utils import timezone

from calendars import selectors as calendar_selectors
from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from integrations.sync import engine
from tests.integrations.conftest import USERS, OtherClient, calendar_through_proxy
from tests.integrations.series import make_weekly_series, phone_rule_drops_a_moved_occurrence
from tests.peers.fault_proxy import FaultProxy

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def test_exceptions_beyond_a_phone_shortened_rule_go(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    # Weekly, six times; the second moved on its own, the third cancelled (both pushed).
    series = make_weekly_series(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)
    occurrences = list(series.occurrences.order_by("original_start"))
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True)

    # The phone ends the series after its first occurrence and keeps the other components as they are.
    uid = SyncLink.objects.get(appointment=series).marker
    until = occurrences[0].original_start.astimezone(UTC)
    phone_entry = alice_phone.by_uid(uid)
    calendar = icalendar.Calendar.from_ical(phone_entry.data)
    (master,) = [c for c in calendar.walk("VEVENT") if "RECURRENCE-ID" not in c]
    assert "EXDATE" in master and any("RECURRENCE-ID" in c for c in calendar.walk("VEVENT"))
    master.pop("RRULE")
    master.add("RRULE", {"FREQ": "WEEKLY", "UNTIL": until})
    phone_entry.data = calendar.to_ical().decode()
    phone_entry.save()

    with django_capture_on_commit_callbacks(execute=True):
        alice_calendar.refresh_from_db()
        engine.sync_agent_calendar(alice_calendar, pull=True)

    series = Appointment.objects.get(pk=series.pk)
    starts = list(rrule.rrule(rrule.WEEKLY, dtstart=tomorrow_9.astimezone(UTC), until=until))
    assert len(starts) == 1
    exceptions = calendar_selectors.series_exceptions(series)
    assert (exceptions.cancelled, exceptions.moved) == ([], [])
    shown = Appointment.objects.visible().filter(master=series).order_by("start")
    assert [(s.astimezone(UTC), e.astimezone(UTC)) for s, e in shown.values_list("start", "end")] == [
        (start, start + HOUR) for start in starts
    ]


def _end_after_the_first(phone) -> None:
    """The phone ends the only series after its first occurrence (COUNT=6 -> COUNT=1), keeping its
    other components as they are."""
    phone_entry = phone.by_uid(SyncLink.objects.get().marker)
    calendar = icalendar.Calendar.from_ical(phone_entry.data)
    (master,) = [c for c in calendar.walk("VEVENT") if "RECURRENCE-ID" not in c]
    master.pop("RRULE")
    master.add("RRULE", {"FREQ": "WEEKLY", "COUNT": 1})
    phone_entry.data = calendar.to_ical().decode()
    phone_entry.save()


def test_a_moved_occurrence_a_phone_rule_change_drops_goes_on_both_sides_with_one_line(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """Task push 2: the phone's new rule (COUNT=6 -> COUNT=1) no longer gives the second
    occurrence, moved in the helpdesk and pushed (a RECURRENCE-ID component); the phone keeps that
    component. The moved occurrence goes in the helpdesk, its component goes from the calendar,
    and one log line (the push's) says so. Read back from Radicale with icalendar."""

    lines = phone_rule_drops_a_moved_occurrence(
        alice_calendar, django_capture_on_commit_callbacks, tomorrow_9, lambda _href: _end_after_the_first(alice_phone)
    )

    uid = SyncLink.objects.get().marker
    held = icalendar.Calendar.from_ical(alice_phone.by_uid(uid).data)
    assert [c for c in held.walk("VEVENT") if "RECURRENCE-ID" in c] == []
    (said,) = [line for line in lines if "moved on its own" in line.message]
    assert (said.direction, said.operation) == (SyncLogEntry.Direction.OUTBOUND, "update")


def test_an_unchanged_poll_expands_no_rule_of_a_series_with_a_moved_occurrence(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks, monkeypatch
):
    """Review F6: a poll that reads nothing new and finds nothing changed in the helpdesk does not
    walk the rule of a helpdesk series holding an occurrence moved on its own (the check for
    occurrences a rule changed there no longer gives: `mapping.orphaned_overrides`). A spy counts
    the calls of dateutil's rule parser and calls through."""
    import dateutil.rrule

    make_weekly_series(alice_calendar.agent, tomorrow_9, django_capture_on_commit_callbacks)
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True)
    parsed = []
    real = dateutil.rrule.rrulestr

    def counting(*args, **kwargs):
        parsed.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(dateutil.rrule, "rrulestr", counting)
    alice_calendar.refresh_from_db()
    report = engine.sync_agent_calendar(alice_calendar, pull=True)

    assert report.failed == report.pushed == report.pulled == 0, report.summary()
    assert parsed == []

    # A link recorded before the check's result was kept reads it once, on its next poll, and keeps it.
    link = SyncLink.objects.get()
    assert link.snapshot.pop(engine.ORPHANED) == []
    SyncLink.objects.filter(pk=link.pk).update(snapshot=link.snapshot)
    engine.sync_agent_calendar(alice_calendar, pull=True)
    assert len(parsed) == 1 and SyncLink.objects.get().snapshot[engine.ORPHANED] == []
    engine.sync_agent_calendar(alice_calendar, pull=True)
    assert len(parsed) == 1


def test_a_drop_whose_push_failed_goes_with_the_retry_that_reads_nothing(
    alice, radicale, caldav_connection, tomorrow_9, django_capture_on_commit_callbacks
):
    """Task push 2, its push refused once (403 with need-privileges on the entry: an ACL): the
    moved occurrence the phone's new rule dropped is gone in the helpdesk, its component still on
    the calendar. The link's retry, a push-only run, reads nothing there and finds nothing changed
    in the helpdesk, yet sends the drop again (what the check found is kept with the entry as last
    read: review F6), and one line says it went. Read back from Radicale with icalendar."""
    proxy = FaultProxy(radicale.url)
    try:
        calendar = calendar_through_proxy(alice, proxy, radicale, caldav_connection, name="Proxied", timeout=5)
        phone = OtherClient(radicale.url, "alice", USERS["alice"], radicale.url + calendar.calendar_id.split("/", 3)[3])
        make_weekly_series(alice, tomorrow_9, django_capture_on_commit_callbacks)
        calendar.refresh_from_db()
        engine.sync_agent_calendar(calendar, pull=True)
        link = SyncLink.objects.get()
        _end_after_the_first(phone)
        proxy.refuse(link.remote_id)

        with django_capture_on_commit_callbacks(execute=True):
            calendar.refresh_from_db()
            engine.sync_agent_calendar(calendar, pull=True)

        def moved_components() -> list:
            data = icalendar.Calendar.from_ical(phone.by_uid(link.marker).data)
            return [c for c in data.walk("VEVENT") if "RECURRENCE-ID" in c]

        assert calendar_selectors.series_exceptions(Appointment.objects.get(pk=link.appointment_id)).moved == []
        assert len(moved_components()) == 1  # the push was refused
        before = SyncLogEntry.objects.count()
        proxy.refused.clear()  # the ACL is fixed; the link's back-off is over
        SyncLink.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

        with django_capture_on_commit_callbacks(execute=True):
            calendar.refresh_from_db()
            report = engine.sync_agent_calendar(calendar, pull=False)
    finally:
        proxy.stop()

    assert (report.pulled, report.pushed, report.failed) == (0, 1, 0), report.summary()
    assert moved_components() == []
    lines = list(SyncLogEntry.objects.order_by("id")[before:])
    (said,) = [line for line in lines if "moved on its own" in line.message]
    assert (said.direction, said.operation, said.result) == (
        SyncLogEntry.Direction.OUTBOUND,
        "update",
        SyncLogEntry.Result.OK,
    )
