"""helpdesk.bulk inserts the rows Django's own `bulk_create` inserts: the reference is the same
instances written by `bulk_create` and read back from the database."""

import re
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from calendars.models import Appointment
from helpdesk import bulk
from integrations.models import AgentCalendar, Connection, SyncLink, SyncLogEntry

pytestmark = pytest.mark.django_db

SKIP = {"id", "created_at", "updated_at", "master_id"}


def _appointments(master=None) -> list[Appointment]:
    return [
        Appointment(
            subject="Visit, with ünïcode",
            note="",
            start=datetime(2026, 12, 1, 8, tzinfo=UTC),
            end=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
            other_attendees=["a@example.com"],
            source=Appointment.Source.EXTERNAL,
            reminder_minutes=15,
            master=master,
            original_start=datetime(2026, 12, 1, 8, tzinfo=UTC) if master else None,
        ),
        Appointment(
            subject="All day",
            start=datetime(2026, 12, 23, 23, tzinfo=UTC),
            end=datetime(2026, 12, 25, 23, tzinfo=UTC),
            start_date=date(2026, 12, 24),
            end_date=date(2026, 12, 26),
            all_day=True,
            busy=False,
            private=True,
        ),
    ]


def _rows(model, pks) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in SKIP}
        for row in model.objects.filter(pk__in=pks).order_by("pk").values()
    ]


def test_inserted_appointments_read_back_as_bulk_create_writes_them():
    made = Appointment.objects.bulk_create(_appointments())
    ours = bulk.insert(_appointments())
    assert all(a.pk is not None and not a._state.adding for a in ours)
    assert _rows(Appointment, [a.pk for a in ours]) == _rows(Appointment, [a.pk for a in made])
    assert all(a.created_at is not None for a in Appointment.objects.filter(pk__in=[a.pk for a in ours]))


def test_a_related_row_saved_after_it_was_assigned_is_linked_by_its_key():
    master = Appointment(
        subject="Series", start=datetime(2026, 12, 1, 8, tzinfo=UTC), end=datetime(2026, 12, 1, 9, tzinfo=UTC)
    )
    occurrences = _appointments(master)[:1]
    bulk.insert([master])
    bulk.insert(occurrences)
    assert Appointment.objects.get(pk=occurrences[0].pk).master_id == master.pk


def test_links_and_log_entries_with_sealed_snapshots_read_back_as_bulk_create_writes_them(alice):
    connection = Connection.objects.create(name="R", kind="caldav", server_url="http://127.0.0.1:1/")
    agent_calendar = AgentCalendar.objects.create(agent=alice, connection=connection, calendar_id="/c/")

    def links(prefix: str) -> list[SyncLink]:
        private = {"remote": {"subject": "secret", "private": True}, "remote_raw": "BEGIN:VCALENDAR"}
        return [
            SyncLink(agent_calendar=agent_calendar, marker=prefix + "1", remote_id="/c/1.ics", snapshot=private),
            SyncLink(agent_calendar=agent_calendar, marker=prefix + "2", snapshot={"remote": {"subject": "open"}}),
        ]

    made, ours = SyncLink.objects.bulk_create(links("a")), bulk.insert(links("b"))
    assert [link.snapshot for link in SyncLink.objects.filter(pk__in=[link.pk for link in ours]).order_by("pk")] == [
        link.snapshot for link in SyncLink.objects.filter(pk__in=[link.pk for link in made]).order_by("pk")
    ]
    entries = [SyncLogEntry(agent_calendar=agent_calendar, link=ours[0], direction="in", operation="create")]
    bulk.insert(entries)
    assert SyncLogEntry.objects.get(pk=entries[0].pk).link_id == ours[0].pk


def test_inserted_instances_hold_the_moments_stored_for_their_auto_now_fields():
    before = timezone.now()
    ours = bulk.insert(_appointments())
    stored = Appointment.objects.filter(pk__in=[a.pk for a in ours]).order_by("pk")
    assert [(a.created_at, a.updated_at) for a in ours] == [(a.created_at, a.updated_at) for a in stored]
    assert all(before <= a.created_at <= timezone.now() for a in stored)


def test_rows_the_database_refuses_raise_its_error():
    bad = Appointment(subject="x", start=datetime(2026, 12, 1, 9, tzinfo=UTC), end=datetime(2026, 12, 1, 8, tzinfo=UTC))
    with pytest.raises(IntegrityError):
        bulk.insert([bad])


def test_plain_rows_go_into_a_many_to_many_table(alice):
    appointment = bulk.insert(_appointments())[0]
    assert bulk.insert_values(Appointment.agents.through, ["appointment", "agent"], [(appointment.pk, alice.pk)]) == 1
    assert list(appointment.agents.all()) == [alice]


def test_rows_given_as_values_read_back_as_bulk_create_writes_the_same_instances():
    # Each row names only some fields (the second none of the first's dates and attendees): the
    # others take their defaults, as Model.__init__ gives them to bulk_create's instances.
    theirs, master = bulk.insert(_appointments())  # two masters: one occurrence each per original start

    def rows(master: Appointment) -> list[dict]:
        return [
            {
                "subject": "Visit",
                "start": datetime(2026, 12, 1, 8, tzinfo=UTC),
                "end": datetime(2026, 12, 1, 9, tzinfo=UTC),
                "other_attendees": ["a@example.com"],
                "master_id": master.pk,
                "original_start": datetime(2026, 12, 1, 8, tzinfo=UTC),
                "is_modified": True,
            },
            {
                "subject": "All day",
                "start": datetime(2026, 12, 23, 23, tzinfo=UTC),
                "end": datetime(2026, 12, 24, 23, tzinfo=UTC),
                "start_date": date(2026, 12, 24),
                "all_day": True,
            },
        ]

    made = Appointment.objects.bulk_create([Appointment(**row) for row in rows(theirs)])
    before = timezone.now()
    keys = bulk.insert_rows(Appointment, rows(master))
    assert len(keys) == 2 and not set(keys) & {a.pk for a in made}
    assert _rows(Appointment, keys) == _rows(Appointment, [a.pk for a in made])
    assert [a.master_id for a in Appointment.objects.filter(pk__in=keys).order_by("pk")] == [master.pk, None]
    assert all(
        before <= a.created_at == a.updated_at <= timezone.now() for a in Appointment.objects.filter(pk__in=keys)
    )


def test_rows_whose_keys_are_not_asked_for_read_back_as_bulk_create_writes_them(alice):
    """`keys=False` (SQLite: one single-row statement run for each row) stores what bulk_create
    stores for the same instances; nothing is returned."""
    connection = Connection.objects.create(name="R", kind="caldav", server_url="http://127.0.0.1:1/")
    agent_calendar = AgentCalendar.objects.create(agent=alice, connection=connection, calendar_id="/c/")
    rows = [
        {"agent_calendar_id": agent_calendar.pk, "direction": "in", "operation": "create", "result": "ok"},
        {"agent_calendar_id": agent_calendar.pk, "direction": "out", "operation": "update", "subject": "Visit, ü"},
        {"agent_calendar_id": agent_calendar.pk, "direction": "in", "operation": "x", "overwritten": {"a": [1]}},
    ]
    made = SyncLogEntry.objects.bulk_create([SyncLogEntry(**row) for row in rows])
    assert bulk.insert_rows(SyncLogEntry, rows, keys=False) == []
    ours = SyncLogEntry.objects.exclude(pk__in=[entry.pk for entry in made]).order_by("pk")
    skip = {"id", "created_at"}
    fields = [f.attname for f in SyncLogEntry._meta.concrete_fields if f.attname not in skip]
    stored = SyncLogEntry.objects.filter(pk__in=[entry.pk for entry in made]).order_by("pk")
    values = [[getattr(entry, name) for name in fields] for entry in ours]
    assert values == [[getattr(entry, name) for name in fields] for entry in stored]


def _errors(check) -> dict | None:
    try:
        check()
    except ValidationError as error:
        return error.message_dict
    return None


CLEAN_CASES = {
    "valid": {},
    "blank subject": {"subject": ""},
    "subject too long": {"subject": "x" * 256},
    "location at its length": {"location": "y" * 255},
    "location too long": {"location": "y" * 256},
    "unknown source": {"source": "elsewhere"},
    "source given as text": {"source": "external"},
    "no start": {"start": None},
    "start as text": {"start": "2026-12-01 08:00"},
    "start as a date": {"start": date(2026, 12, 1)},
    "flag as text": {"busy": "yes"},
    "flag as None": {"private": None},
    "negative reminder": {"reminder_minutes": -5},
    "day as text": {"start_date": "2026-12-01"},
    "not a list of attendees": {"other_attendees": {1, 2}},
    "note as a number": {"note": 12},
}


@pytest.mark.filterwarnings("ignore:DateTimeField Appointment.start received a naive datetime")
@pytest.mark.parametrize("name", sorted(CLEAN_CASES))
def test_clean_fields_refuses_and_converts_as_django_does(name):
    """The reference is Django's own Model.clean_fields on an identical instance: same errors by
    field, same values afterwards."""
    ours, django_s = _appointments()[0], _appointments()[0]
    for obj in (ours, django_s):
        for attname, value in CLEAN_CASES[name].items():
            setattr(obj, attname, value)
    exclude = ["created_by", "master", "request", "action"]
    assert _errors(lambda: bulk.clean_fields(ours, exclude=exclude)) == _errors(
        lambda: django_s.clean_fields(exclude=exclude)
    )
    fields = [f.attname for f in Appointment._meta.fields]
    assert [getattr(ours, name) for name in fields] == [getattr(django_s, name) for name in fields]


NEW_INSTANCE_CASES = {
    "an import's fields": {
        "subject": "Visit",
        "note": "",
        "location": "Street 1",
        "start": datetime(2026, 12, 1, 8, tzinfo=UTC),
        "end": datetime(2026, 12, 1, 9, tzinfo=UTC),
        "all_day": False,
        "private": False,
        "busy": True,
        "reminder_minutes": None,
        "source": Appointment.Source.EXTERNAL,
        "other_attendees": [],
        "created_by": None,
    },
    "a relation by its key": {"subject": "x", "request_id": None, "master_id": 7},
    "nothing given": {},
    "an unknown name": {"subject": "x", "colour": "red"},
}


@pytest.mark.parametrize("name", sorted(NEW_INSTANCE_CASES))
def test_new_instance_builds_what_the_model_s_own_constructor_builds(name, alice):
    """The reference is Django's own `Model.__init__` with the same keywords: the same field
    values, the same relations cached, the same error for a name the model lacks; a callable
    default (a list) is a new object for each instance, as Django gives it."""
    values = dict(NEW_INSTANCE_CASES[name])
    if name == "an import's fields":
        values["created_by"] = alice.user  # an object: set through the relation, cached
    try:
        expected = Appointment(**values)
    except TypeError as error:
        with pytest.raises(TypeError, match=re.escape(str(error))):
            bulk.new_instance(Appointment, **values)
        return
    ours = bulk.new_instance(Appointment, **values)
    fields = Appointment._meta.concrete_fields
    assert [getattr(ours, f.attname) for f in fields] == [getattr(expected, f.attname) for f in fields]
    relations = [f for f in fields if f.is_relation]
    assert [f.is_cached(ours) for f in relations] == [f.is_cached(expected) for f in relations]
    assert ours._state.adding and ours.pk is None
    assert bulk.new_instance(Appointment).other_attendees is not ours.other_attendees


def _statements_of(job) -> list[str]:
    from django.db import connection

    seen = []

    def spy(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        job()
    return seen


def test_bulk_statements_on_sqlite_are_written_in_its_own_placeholders_and_read_back_the_same():
    """sqlite3's paramstyle is "qmark" (PEP 249, Python's sqlite3 docs): a statement written in
    it is not rewritten value by value by Django's SQLite cursor (issue 14's import profile)."""
    import sqlite3

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's placeholders")
    made = Appointment.objects.bulk_create(_appointments())
    ours: list[Appointment] = []
    inserted = _statements_of(lambda: ours.extend(bulk.insert(_appointments())))
    for appointment in ours:
        appointment.subject = "Changed"
    updated = _statements_of(lambda: bulk.update(ours, ["subject"]))
    assert sqlite3.paramstyle == "qmark"
    assert [("?" in sql, "%s" in sql) for sql in inserted + updated] == [(True, False)] * 2
    assert _rows(Appointment, [a.pk for a in ours]) == [
        {**row, "subject": "Changed"} for row in _rows(Appointment, [a.pk for a in made])
    ]


def test_bulk_statements_logged_as_in_debug_read_as_django_logs_them():
    """With statements logged (DEBUG, a test counting queries), Django's debug cursor formats each
    with `%` and its parameters: the statement keeps Django's own placeholders for it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as logged:
        ours = bulk.insert(_appointments())
    assert len(logged.captured_queries) == 1
    assert "Visit, with ünïcode" in logged.captured_queries[0]["sql"]
    assert Appointment.objects.filter(pk__in=[a.pk for a in ours]).count() == 2
