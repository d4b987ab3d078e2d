"""Private external entries never leak (issue 11, S2.5, S5): a walk of every page, API endpoint,
feed, e-mail, admin page, log record and stored log and snapshot row, as every role.

Private entries are made the ways an external calendar makes them (RFC 5545 3.8.1.3 CLASS):
CLASS:PRIVATE, CLASS:CONFIDENTIAL, a public series with one private RECURRENCE-ID override that
has its own SUMMARY/LOCATION, a private series with an override, and a public entry later made
private in the other client; all imported through the real CalDAV path (Radicale). Exchange
Sensitivity, Graph sensitivity and Google visibility go through each provider's own mapping
into the same import. The URLs come from the URL conf, the admin registry and the API router.
"""

import itertools
import logging
import re
from datetime import UTC, timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from agents.models import Agent, Team
from calendars import services as calendar_services
from calendars.models import Appointment, CalendarSettings
from calendars.notifications import NoticeKind, build_notices
from integrations.models import Connection, SyncLink, SyncLogEntry
from integrations.providers.google.mapping import event_from_resource
from integrations.providers.graph.mapping import event_from_graph, series_from
from integrations.sync import engine, inbound
from tests.feed_tokens import feed_token_of
from tests.integrations.stored_text import tables_holding
from tickets import services as ticket_services
from tickets.models import Action, Request

pytestmark = pytest.mark.django_db

MARK = "PRIVMARK"  # every private text carries it; no public text does
FMT = "%Y%m%dT%H%M%SZ"
OUR_LOGGERS = {"calendars", "integrations", "helpdesk", "agents", "tickets", "django", "celery"}


def _vevent(uid, start, end, summary, *, klass="PUBLIC", extra="", recurrence_id=None) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{timezone.now().strftime(FMT)}",
        f"DTSTART:{start.astimezone(UTC).strftime(FMT)}",
        f"DTEND:{end.astimezone(UTC).strftime(FMT)}",
        f"SUMMARY:{summary}",
        f"CLASS:{klass}",
    ]
    if recurrence_id is not None:
        lines.append(f"RECURRENCE-ID:{recurrence_id.astimezone(UTC).strftime(FMT)}")
    if MARK in summary:
        lines += [f"DESCRIPTION:{summary} body", f"LOCATION:{summary} room"]
    else:
        lines += ["DESCRIPTION:Public agenda", "LOCATION:Main office"]
    return "\r\n".join([*lines, *([extra] if extra else []), "END:VEVENT"]) + "\r\n"


def _save(phone, *vevents: str) -> None:
    phone.calendar.save_event(
        ical="BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n" + "".join(vevents) + "END:VCALENDAR\r\n"
    )


def _pull(agent_calendar) -> None:
    agent_calendar.refresh_from_db()
    engine.sync_agent_calendar(agent_calendar, pull=True)


@pytest.fixture
def private_entries(alice_calendar, alice_phone, tomorrow_9, make_agent, django_capture_on_commit_callbacks):
    """Alice's calendar with private entries made in every way, imported; returns the marker texts."""
    alice = alice_calendar.agent
    alice.import_external = True
    alice.save()
    settings = CalendarSettings.load()
    settings.email_technicians = True
    settings.save()
    hour, week = timedelta(hours=1), timedelta(days=7)
    t = tomorrow_9
    # The flip: public first, imported, then made private in the other client.
    _save(alice_phone, _vevent("flip", t - 2 * hour, t - hour, f"{MARK} flip"))
    _pull(alice_calendar)
    assert Appointment.objects.filter(subject=f"{MARK} flip").exists()  # it was public and shown
    _save(alice_phone, _vevent("flip", t - 2 * hour, t - hour, f"{MARK} flip", klass="PRIVATE"))
    _save(alice_phone, _vevent("plain", t, t + hour, f"{MARK} plain", klass="PRIVATE"))
    _save(alice_phone, _vevent("confidential", t + hour, t + 2 * hour, f"{MARK} confidential", klass="CONFIDENTIAL"))
    # A public series with one private override carrying its own SUMMARY and LOCATION.
    second = t + 3 * hour + week
    _save(
        alice_phone,
        _vevent("series", t + 3 * hour, t + 4 * hour, "Weekly stand-up", extra="RRULE:FREQ=WEEKLY;COUNT=4"),
        _vevent("series", second + hour, second + 2 * hour, f"{MARK} override", klass="PRIVATE", recurrence_id=second),
    )
    # A private series whose override has its own text.
    fifth = t + 5 * hour + week
    _save(
        alice_phone,
        _vevent(
            "private-series",
            t + 5 * hour,
            t + 6 * hour,
            f"{MARK} series",
            klass="PRIVATE",
            extra="RRULE:FREQ=DAILY;COUNT=9",
        ),
        _vevent("private-series", fifth, fifth + hour, f"{MARK} series override", klass="PRIVATE", recurrence_id=fifth),
    )
    with django_capture_on_commit_callbacks(execute=True):
        _pull(alice_calendar)
    # Exchange, Microsoft 365 and Google mark private their own way; each mapping feeds the import.
    graph_master = {
        "id": "g1",
        "subject": f"{MARK} graph",
        "body": {"contentType": "text", "content": f"{MARK} graph body"},
        "location": {"displayName": f"{MARK} graph room"},
        "start": {"dateTime": (t + 8 * hour).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (t + 9 * hour).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "originalStartTimeZone": "UTC",
        "sensitivity": "confidential",
    }
    google_master = {
        "id": "google1",
        "summary": f"{MARK} google",
        "description": f"{MARK} google body",
        "location": f"{MARK} google room",
        "visibility": "private",
        "start": {"dateTime": (t + 10 * hour).isoformat(), "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": (t + 11 * hour).isoformat(), "timeZone": "Europe/Amsterdam"},
    }
    # A team with a coordinating technician, so the team feed is walked with a token that opens it.
    carol = make_agent("carol", team="Field")
    carol.user.user_permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
    Team.objects.get(name="Field").members.add(alice)
    # A request of alice's, so its pages (which list her appointments) are walked too.
    ticket_services.create_request(summary="Printer jam", assigned_agents=[alice])
    with inbound.inbound(alice_calendar), django_capture_on_commit_callbacks(execute=True):
        for event in (event_from_graph(graph_master), event_from_resource(google_master)):
            assert event.private
            inbound.import_remote_event(alice, event)
    # Private entries changed in the helpdesk: each on carol's calendar too (written straight to the
    # table: an imported entry keeps its technicians now, calendars.ownership, but data from before
    # may hold one on two), one occurrence of the private series moved and another cancelled (and
    # pushed back).
    with django_capture_on_commit_callbacks(execute=True):
        for appointment in Appointment.objects.filter(private=True, source="external", master__isnull=True):
            appointment.agents.add(carol)
            Appointment.agents.through.objects.bulk_create(
                Appointment.agents.through(appointment_id=occurrence, agent_id=carol.pk)
                for occurrence in appointment.occurrences.values_list("pk", flat=True)
            )
        occurrences = list(Appointment.objects.filter(master__private=True).order_by("start")[:2])
        calendar_services.update_appointment(
            occurrences[0], start=occurrences[0].start + hour, end=occurrences[0].end + hour
        )
        calendar_services.cancel_occurrence(occurrences[1])
    return alice


def _is_private_in_exchange(sensitivity: str) -> bool:
    from exchangelib import CalendarItem

    from integrations.providers.exchange.mapping import event_from_item

    item = CalendarItem(
        subject=f"{MARK} ews", sensitivity=sensitivity, start=timezone.now(), end=timezone.now() + timedelta(hours=1)
    )
    return event_from_item(item).private


def test_exchange_graph_and_google_private_markings_are_read_as_private():
    # EWS t:SensitivityChoicesType, Graph event.sensitivity, Google Events visibility.
    assert _is_private_in_exchange("Private") and _is_private_in_exchange("Confidential")
    assert not _is_private_in_exchange("Normal")
    now = timezone.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for sensitivity, private in (("private", True), ("confidential", True), ("normal", False), ("personal", False)):
        data = {"start": {"dateTime": now, "timeZone": "UTC"}, "end": {"dateTime": now, "timeZone": "UTC"}}
        assert event_from_graph({**data, "sensitivity": sensitivity}).private is private
    start = {"dateTime": "2030-01-07T09:00:00+01:00", "timeZone": "Europe/Amsterdam"}
    end = {"dateTime": "2030-01-07T10:00:00+01:00", "timeZone": "Europe/Amsterdam"}
    for visibility, private in (("private", True), ("confidential", True), ("default", False), ("public", False)):
        assert event_from_resource({"start": start, "end": end, "visibility": visibility}).private is private
    # An exception of a public series marked private alone.
    master = {"id": "s", "start": start, "end": end, "summary": "Stand-up", "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]}
    exception = {
        "id": "s_1",
        "originalStartTime": {"dateTime": "2030-01-08T09:00:00+01:00", "timeZone": "Europe/Amsterdam"},
        "start": {"dateTime": "2030-01-08T09:00:00+01:00", "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": "2030-01-08T10:00:00+01:00", "timeZone": "Europe/Amsterdam"},
        "summary": f"{MARK} google exception",
        "visibility": "private",
    }
    series = event_from_resource(master, [exception])
    assert not series.private and [o.private for o in series.overrides] == [True]
    graph_series = series_from(
        {
            **{"start": {"dateTime": "2030-01-07T08:00:00", "timeZone": "UTC"}},
            "end": {"dateTime": "2030-01-07T09:00:00", "timeZone": "UTC"},
            "subject": "Stand-up",
            "originalStartTimeZone": "UTC",
            "recurrence": {
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": "2030-01-07", "numberOfOccurrences": 3},
            },
        },
        [
            {
                "type": "exception",
                "originalStart": "2030-01-08T08:00:00Z",
                "subject": f"{MARK} graph exception",
                "sensitivity": "private",
                "start": {"dateTime": "2030-01-08T08:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2030-01-08T09:00:00", "timeZone": "UTC"},
                "originalStartTimeZone": "UTC",
            }
        ],
        timezone.now() - timedelta(days=3650),
        timezone.now() + timedelta(days=3650),
    )
    assert [o.private for o in graph_series.overrides] == [True]


# --- the walk -------------------------------------------------------------------------------------


def _patterns(resolvers, prefix=""):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            if str(entry.pattern).startswith("admin/"):
                continue  # the admin registry gives those, with every object's change page
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry, prefix + str(entry.pattern)


def _names(resolver, namespace="", prefix=""):
    """(full name, pattern, route text) of every named URL in the URL conf, the API router's included."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (entry.namespace + ":" if entry.namespace else "")
            if entry.namespace == "admin":
                continue
            yield from _names(entry, inner, prefix + str(entry.pattern))
        elif entry.name:
            yield namespace + entry.name, entry, prefix + str(entry.pattern)


def _ids_for(route: str, key: str, by_word: dict[str, list[int]], everything: list[int]) -> list[int]:
    """The ids to fill a route's one argument with: the objects the word before it names
    ("appointments/<pk>" -> every appointment), or every object there is when no word fits."""
    found = re.search(r"(\w+)/(\^)?[^/]*" + re.escape(key), route)
    word = found.group(1) if found else ""
    return by_word.get(word, everything)


def _urls(alice, bob) -> list[str]:
    """Every GET-able URL, filled with every appointment, request and token there is."""
    appointment_ids = list(Appointment.objects.values_list("pk", flat=True))
    request_ids = list(Request.objects.values_list("pk", flat=True))
    team_ids = list(Team.objects.values_list("pk", flat=True))
    by_word = {
        "appointments": appointment_ids,
        "requests": request_ids,
        "agents": list(Agent.objects.values_list("pk", flat=True)),
        "teams": team_ids,
    }
    fills = {
        "pk": appointment_ids + request_ids + list(SyncLink.objects.values_list("pk", flat=True)),
        "request_pk": request_ids,
        "team_id": team_ids,
        "token": [feed_token_of(agent) for agent in Agent.objects.all()],
        "connection_id": list(Connection.objects.values_list("pk", flat=True)),
        "action_pk": list(Action.objects.values_list("pk", flat=True)),
    }
    urls = set()
    for name, entry, route in _names(get_resolver()):
        if name.endswith("schema") or "format" in entry.pattern.regex.groupindex:
            continue  # the schema holds no data; the .json suffix repeats the same view
        keys = list(entry.pattern.regex.groupindex)
        assert set(keys) <= set(fills), f"{route}: a new kind of URL argument, give the walk its values"
        choices = [_ids_for(route, key, by_word, fills[key]) if key == "pk" else fills[key] for key in keys]
        for values in itertools.product(*choices):
            try:
                urls.add(reverse(name, kwargs=dict(zip(keys, values, strict=True))))
            except Exception:  # a value the converter refuses names no page
                continue
    # The feeds with the team's and external entries, and the API's lists over the whole year.
    feeds = [u for u in urls if u.endswith(".ics")]
    urls |= {f"{u}?external=1" for u in feeds}
    start, end = (timezone.now() - timedelta(days=30)).date(), (timezone.now() + timedelta(days=60)).date()
    urls |= {f"{reverse('api:appointment-list')}?start={start}&end={end}"} if _has("api:appointment-list") else set()
    # The admin: every registered model's list and every object's change page.
    for model in admin.site._registry:
        meta = model._meta
        urls.add(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        for pk in model.objects.values_list("pk", flat=True):
            urls.add(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk]))
    return sorted(urls)


def _has(name: str) -> bool:
    try:
        reverse(name)
    except Exception:
        return False
    return True


@pytest.fixture
def _log_everything(caplog):
    caplog.set_level(logging.DEBUG)


def test_no_private_text_anywhere_for_any_role(_log_everything, private_entries, bob, coordinator, client, caplog):
    alice = private_entries
    # The stored rows, as the database holds them (not through the sealing field).
    assert tables_holding(MARK) == []
    assert SyncLink.objects.filter(snapshot__isnull=False).exists()
    # ... and yet the sealed snapshots still hold what a merge-update needs (the remote's text).
    assert any(MARK in repr(link.snapshot) for link in SyncLink.objects.all())
    assert SyncLogEntry.objects.filter(subject="(private)").exists()
    # Every private entry made it in, as busy time.
    hidden = Appointment.objects.filter(private=True, source="external")
    assert (
        hidden.filter(master__isnull=True, schedule__isnull=True).count() >= 5
    )  # flip, plain, confidential, graph, google
    override = Appointment.objects.get(master__isnull=False, private=True, master__private=False)
    assert (override.subject, override.location) == ("", "")
    assert (
        Appointment.objects.filter(master=override.master, private=False).exclude(subject="Weekly stand-up").count()
        == 0
    )

    viewer = User.objects.create_user("viewer", password="pw")
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    roles = {"admin": root, "coordinator": coordinator, "owner": alice.user, "other": bob.user, "viewer": viewer}
    urls = _urls(alice, bob)
    assert any("/api/appointments/" in u for u in urls) and any(u.endswith("?external=1") for u in urls)
    assert any("/feeds/team/" in u for u in urls)
    assert any("/admin/integrations/synclink/" in u for u in urls) and any("/calendar/appointments/" in u for u in urls)
    seen, failures = 0, []
    for role, user in roles.items():
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            if response.status_code >= 500:
                failures.append((role, url, response.status_code))
                continue
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if re.search(MARK.encode(), body, re.IGNORECASE):
                failures.append((role, url, "shows private text"))
            seen += 1
    assert failures == []
    assert seen > 200
    # The feeds did show the private entries, as busy time: the team's (a coordinator's link) too.
    carol = Agent.objects.get(user__username="carol")
    team = Team.objects.get(name="Field")
    for url in (
        reverse("feeds:agent", args=[feed_token_of(alice)]),
        reverse("feeds:team", args=[team.pk, feed_token_of(carol)]),
    ):
        response = client.get(url, {"external": "1"})
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200 and body.count(b"SUMMARY:Busy") >= 5, url
    # The e-mails the imports sent, and every log record written meanwhile.
    # Imported entries send no e-mail (the technician made them); the notice any change would
    # send is built through the same rule, for every hidden entry and every kind of notice.
    kinds = {agent.pk: kind for agent, kind in zip(Agent.objects.all(), NoticeKind, strict=False)}
    notices = [
        notice
        for appointment in Appointment.objects.filter(private=True, source="external")
        for notice in build_notices(appointment, kinds, CalendarSettings.load())
    ]
    assert len(notices) > 20
    for message in [*mail.outbox, *notices]:
        assert MARK not in f"{message.subject} {message.body} {getattr(message, 'attachments', '')}"
        assert MARK not in repr(getattr(message, "ics", ""))
    # Our own loggers and Django's; the other client's and the CalDAV peer's wire logs (the test's
    # own writes, radicale, the caldav library's DEBUG dumps) are not the helpdesk's records.
    records = [
        record
        for record in [*caplog.get_records("setup"), *caplog.get_records("call")]
        if record.name.split(".")[0] in OUR_LOGGERS
    ]
    assert records  # the imports and the walk did log
    assert MARK not in "\n".join(record.getMessage() for record in records)


def test_a_private_entry_changed_in_the_helpdesk_keeps_its_remote_text(
    private_entries, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """A merge-update of a private entry sends back the remote's own text (kept sealed), never blanks."""
    appointment = Appointment.objects.get(sync_links__marker="plain")
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(
            appointment, start=tomorrow_9 + timedelta(hours=12), end=tomorrow_9 + timedelta(hours=13)
        )
    entry = alice_phone.by_uid("plain").icalendar_component
    assert str(entry["summary"]) == f"{MARK} plain"
    assert str(entry["class"]) == "PRIVATE"
    assert entry.decoded("dtstart") == tomorrow_9 + timedelta(hours=12)


def test_migration_helpers_seal_only_private_snapshots():
    from integrations import fields

    public = {"local": {"private": False, "subject": "Visit"}, "remote": None}
    private = {"remote": {"private": False, "overrides": [{"private": True, "subject": f"{MARK}"}]}}
    assert fields.seal(public) == public
    sealed = fields.seal(private)
    assert set(sealed) == {"sealed"} and MARK not in repr(sealed)
    assert fields.unseal(sealed) == private


def test_the_data_migration_blanks_and_seals_rows_kept_before(alice_calendar):
    import importlib
    import json

    from django.apps import apps

    migration = importlib.import_module("integrations.migrations.0011_sealed_snapshots")
    start = timezone.now()
    texts = {"subject": f"{MARK} old", "note": f"{MARK} note", "location": f"{MARK} room"}
    appointment = Appointment.objects.create(
        **texts, start=start, end=start + timedelta(hours=1), source="external", private=True
    )
    link = SyncLink.objects.create(agent_calendar=alice_calendar, appointment=appointment, marker="old")
    log = SyncLogEntry.objects.create(
        agent_calendar=alice_calendar, link=link, direction="in", operation="create", subject=f"{MARK} old",
        overwritten={"subject": f"{MARK} older"},
    )  # fmt: skip
    plain = {"remote": {"private": True, "subject": f"{MARK} old"}, "remote_raw": f"SUMMARY:{MARK} old"}
    with connection.cursor() as cursor:  # as the rows were before: plain JSON
        cursor.execute(
            f"UPDATE {SyncLink._meta.db_table} SET snapshot = %s WHERE id = %s", [json.dumps(plain), link.pk]
        )

    migration.forwards(apps, None)

    assert tables_holding(MARK) == []
    link.refresh_from_db()
    log.refresh_from_db()
    assert link.snapshot == plain  # still there for the next merge-update, sealed at rest
    assert (log.subject, log.overwritten) == ("(private)", {"subject": "(private)"})


def test_an_occurrence_made_private_later_loses_its_text_and_keeps_it_remotely(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    """The flip of one occurrence: a public override with its own text, later CLASS:PRIVATE."""
    alice = alice_calendar.agent
    alice.import_external = True
    alice.save()
    t, hour, week = tomorrow_9, timedelta(hours=1), timedelta(days=7)
    second = t + week
    series = _vevent("s", t, t + hour, "Weekly stand-up", extra="RRULE:FREQ=WEEKLY;COUNT=3")
    _save(alice_phone, series, _vevent("s", second, second + hour, f"{MARK} moved", recurrence_id=second))
    _pull(alice_calendar)
    occurrence = Appointment.objects.get(original_start=second)
    assert occurrence.subject == f"{MARK} moved"  # public: shown
    _save(
        alice_phone, series, _vevent("s", second, second + hour, f"{MARK} moved", klass="PRIVATE", recurrence_id=second)
    )
    _pull(alice_calendar)

    occurrence.refresh_from_db()
    assert (occurrence.private, occurrence.subject, occurrence.location, occurrence.note) == (True, "", "", "")
    assert occurrence.master.subject == "Weekly stand-up" and not occurrence.master.private
    # The series' own text is public; the occurrence's is nowhere readable.
    assert tables_holding(MARK) == []

    # The helpdesk renames the public series: the push keeps the private occurrence's own text there.
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(occurrence.master, subject="Daily stand-up")
    entry = alice_phone.by_uid("s")
    children = {
        str(c.get("recurrence-id").to_ical().decode()): c
        for c in entry.icalendar_instance.walk("VEVENT")
        if c.get("recurrence-id") is not None
    }
    child = children[second.astimezone(UTC).strftime(FMT)]
    assert (str(child["summary"]), str(child["class"])) == (f"{MARK} moved", "PRIVATE")
    master = next(c for c in entry.icalendar_instance.walk("VEVENT") if c.get("recurrence-id") is None)
    assert str(master["summary"]) == "Daily stand-up"

    # ... and made public again, it shows its text once more.
    _save(alice_phone, series, _vevent("s", second, second + hour, f"{MARK} moved", recurrence_id=second))
    _pull(alice_calendar)
    occurrence.refresh_from_db()
    assert (occurrence.private, occurrence.subject) == (False, f"{MARK} moved")
