"""Trial F3/N3 on a real Radicale: an organiser's weekly series in an Outlook "Customized Time Zone"
that no IANA zone matches (+03:00, +04:00 from the last Sunday of March). RFC 5545 3.3.10 repeats
the rule on that block's wall clock, and the organiser's later cancels and moves (EXDATE,
RECURRENCE-ID) name its instances on that clock (3.8.5.1, 3.8.4.4). The helpdesk keeps the series
on the block itself. Right occurrences: recurring-ical-events expanding the very text Radicale holds
(dateutil's tzical for the bare block)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events
from dateutil import tz as dateutil_tz
from django.urls import reverse
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.sync import engine
from tests.integrations.series import OWN_ZONE_BLOCK

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# Outlook's name for such zones, numbered: icalendar keeps one zone per TZID for the whole process
# (calendars.ical_zones), so the expected values of this file must not meet other files' blocks.
TZID = "Customized Time Zone 3"
UID = "outlook-unmatched-zone-0001"
BLOCK = OWN_ZONE_BLOCK.replace("TZID:Customized Time Zone\r\n", f"TZID:{TZID}\r\n").rstrip("\r\n")
# Mondays 10:00 on the block's clock, 1 March to 19 April 2027: the clock changes on 28 March.
SERIES = [
    "BEGIN:VEVENT",
    f"UID:{UID}",
    "DTSTAMP:20261201T100000Z",
    "SUMMARY:Weekly call",
    f"DTSTART;TZID={TZID}:20270301T100000",
    f"DTEND;TZID={TZID}:20270301T110000",
    "RRULE:FREQ=WEEKLY;COUNT=8;BYDAY=MO",
    "END:VEVENT",
]
# What the organiser sends later: 5 April cancelled, 12 April moved to Tuesday 13 April 15:00.
LATER = [
    *SERIES[:-1],
    f"EXDATE;TZID={TZID}:20270405T100000",
    "SEQUENCE:1",
    "END:VEVENT",
    "BEGIN:VEVENT",
    f"UID:{UID}",
    "DTSTAMP:20261202T100000Z",
    "SUMMARY:Weekly call",
    f"RECURRENCE-ID;TZID={TZID}:20270412T100000",
    f"DTSTART;TZID={TZID}:20270413T150000",
    f"DTEND;TZID={TZID}:20270413T160000",
    "SEQUENCE:1",
    "END:VEVENT",
]


def outlook_object(vevents: list[str]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN"]
    return "\r\n".join([*lines, BLOCK, *vevents, "END:VCALENDAR", ""])


def expanded(text: str) -> list[tuple[datetime, datetime]]:
    """(start, end) in UTC of every occurrence recurring-ical-events gives for the object's text."""
    found = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    )
    return sorted((event.start.astimezone(UTC), event.end.astimezone(UTC)) for event in found)


def in_helpdesk(master: Appointment) -> list[tuple[datetime, datetime]]:
    shown = Appointment.objects.filter(master=master, is_cancelled=False)
    return sorted((occurrence.start, occurrence.end) for occurrence in shown)


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def pulled(alice_calendar, alice_phone, frozen_now):
    """The organiser's series put on Radicale by another client, then pulled by the helpdesk."""
    alice_calendar.agent.import_external = True
    alice_calendar.agent.save(update_fields=["import_external"])
    alice_phone.calendar.save_event(ical=outlook_object(SERIES))
    alice_calendar.refresh_from_db()
    engine.sync_agent_calendar(alice_calendar, pull=True, now=NOW)
    return Appointment.objects.get(agents=alice_calendar.agent, master__isnull=True, schedule__isnull=False)


def test_a_pulled_series_in_a_zone_no_iana_zone_matches_repeats_on_that_zones_clock_after_its_change(
    pulled, alice_phone
):
    stored = alice_phone.by_uid(UID).data
    # The block's own offsets (dateutil's tzical): +03:00 before 28 March 2027, +04:00 after.
    zone = dateutil_tz.tzical(io.StringIO(BLOCK.replace("\r\n", "\n"))).get()
    assert [datetime(2027, 3, day, 10, tzinfo=zone).utcoffset() for day in (22, 29)] == [3 * HOUR, 4 * HOUR]

    assert in_helpdesk(pulled) == expanded(stored)
    # 10:00 there stays 10:00 there after 28 March: 06:00 UTC, not UTC's 07:00.
    assert (datetime(2027, 4, 19, 6, tzinfo=UTC), datetime(2027, 4, 19, 7, tzinfo=UTC)) in in_helpdesk(pulled)
    assert pulled.schedule.zone_block.startswith("BEGIN:VTIMEZONE") and TZID in pulled.schedule.zone_block


def test_the_organisers_later_cancel_and_move_on_that_zones_clock_are_applied_in_the_helpdesk(
    pulled, alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    entry = alice_phone.by_uid(UID)
    entry.data = outlook_object(LATER)
    entry.save()

    with django_capture_on_commit_callbacks(execute=True):
        alice_calendar.refresh_from_db()
        engine.sync_agent_calendar(alice_calendar, pull=True, now=NOW)

    right = expanded(alice_phone.by_uid(UID).data)
    assert len(right) == 7
    assert in_helpdesk(pulled) == right
    cancelled = Appointment.objects.filter(master=pulled, is_cancelled=True).values_list("original_start", flat=True)
    assert list(cancelled) == [datetime(2027, 4, 5, 6, tzinfo=UTC)]


def test_a_helpdesk_move_written_back_keeps_the_block_and_shows_each_occurrence_once_on_the_phone(
    pulled, alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    before = expanded(alice_phone.by_uid(UID).data)
    occurrence = Appointment.objects.get(master=pulled, original_start=datetime(2027, 4, 19, 6, tzinfo=UTC))
    later = occurrence.start + timedelta(hours=2)

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(occurrence, start=later, end=later + timedelta(hours=1))

    link = SyncLink.objects.get(appointment=pulled)
    assert not link.pending, link.last_error
    text = alice_phone.by_uid(UID).data
    blocks = re.findall(r"BEGIN:VTIMEZONE.*?END:VTIMEZONE", text.replace("\r\n", "\n"), re.S)
    assert [icalendar.Timezone.from_ical(block).to_ical() for block in blocks] == [
        icalendar.Timezone.from_ical(BLOCK).to_ical()
    ]
    assert f"RECURRENCE-ID;TZID={TZID}:20270419T100000" in text.replace("\r\n ", "")
    on_phone = expanded(text)
    assert on_phone == sorted([*before[:-1], (later, later + timedelta(hours=1))])
    assert in_helpdesk(pulled) == on_phone


def test_two_organisers_customized_zones_in_one_feed_each_keep_their_own_clock(alice, client, frozen_now):
    """Outlook names every zone it cannot name "Customized Time Zone" (calendars.ical_zones): two
    organisers' series under that one TZID, one at +03:00/+04:00 and one at +05:00/+06:00, neither an
    IANA zone. The technician's feed must give each its own block's occurrences (RFC 5545 3.2.19: a
    TZID names one VTIMEZONE in an object), as recurring-ical-events reads each organiser's text."""
    from integrations.providers.caldav import parse_event
    from integrations.sync import inbound
    from tests.feed_tokens import feed_token_of

    other = BLOCK.replace("+0400", "+0600").replace("+0300", "+0500")
    first = outlook_object(SERIES)
    second = first.replace(BLOCK, other).replace(UID, "outlook-unmatched-zone-0002").replace("T100000", "T140000")
    second = second.replace("T110000", "T150000")
    for n, text in enumerate([first, second]):
        inbound.import_remote_event(alice, parse_event(text, remote_id=f"/alice/work/{n}.ics"))

    client.force_login(alice.user)
    response = client.get(reverse("feeds:agent", args=[feed_token_of(alice)]), {"external": "1"})

    assert response.status_code == 200
    # Each organiser's object read on its own block: under names of their own, as icalendar keeps one
    # zone per TZID for the whole process (calendars.ical_zones), which would give both the first block.
    right = expanded(first.replace(TZID, "First organiser")) + expanded(second.replace(TZID, "Second organiser"))
    assert expanded(response.content.decode()) == sorted(right)


def test_the_api_names_the_series_zone_by_its_block_and_takes_that_name_back_unchanged(pulled, alice_calendar):
    """The API's `time_zone` of such a series is its block's TZID (no IANA name is its clock); a
    PATCH giving back what was read keeps the series on its own block, times unchanged."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(alice_calendar.agent.user)
    before, kept = in_helpdesk(pulled), pulled.schedule.zone_block

    read = client.get(f"/api/appointments/{pulled.pk}/")
    back = client.patch(f"/api/appointments/{pulled.pk}/", {"time_zone": read.json()["time_zone"]}, format="json")

    assert read.status_code == 200 and read.json()["time_zone"] == TZID
    assert back.status_code == 200, back.json()
    pulled.schedule.refresh_from_db()
    assert TZID in kept and pulled.schedule.zone_block == kept and in_helpdesk(pulled) == before


def test_the_edit_forms_empty_zone_keeps_the_block_and_an_iana_zone_chosen_replaces_it(alice, frozen_now):
    """What the edit form sends (`AppointmentForm.series_zone`): its own zone when "Series time
    zone" is left empty, which keeps the block and every occurrence; an IANA zone chosen moves the
    series there at the same wall-clock time (09:00 stays 09:00, README) and drops the block. Right
    values: recurring-ical-events on the organiser's object, and on it with Asia/Dubai's name."""
    from calendars.selectors import schedule_zone
    from integrations.providers.caldav import parse_event
    from integrations.sync import inbound

    text = outlook_object(SERIES)
    master = inbound.import_remote_event(alice, parse_event(text, remote_id="/alice/work/f3.ics"))
    before = in_helpdesk(master)

    calendar_services.update_appointment(master, subject="Renamed", time_zone=schedule_zone(master.schedule))
    master = Appointment.objects.get(pk=master.pk)
    kept = (master.schedule.zone_block, in_helpdesk(master))

    calendar_services.update_appointment(master, time_zone="Asia/Dubai")
    master = Appointment.objects.get(pk=master.pk)

    assert before == expanded(text) and kept == (BLOCK + "\r\n", before)
    assert master.schedule.zone_block == "" and str(master.schedule.time_zone) == "Asia/Dubai"
    dubai = re.sub(r"BEGIN:VTIMEZONE.*END:VTIMEZONE\r\n", "", text, flags=re.S).replace(TZID, "Asia/Dubai")
    assert in_helpdesk(master) == expanded(dubai)


def test_a_this_and_following_move_in_that_zone_names_the_instances_of_its_clock(alice, frozen_now):
    """RFC 5545 3.8.4.4: RECURRENCE-ID;RANGE=THISANDFUTURE on 5 April (after the zone's change) moves
    that and every later instance to 15:00; the later instances it names are the rule's on the block's
    clock (06:00 UTC), as recurring-ical-events gives them, so the helpdesk shows what it shows."""
    from integrations.providers.caldav import parse_event
    from integrations.sync import inbound

    moved = [
        "BEGIN:VEVENT",
        f"UID:{UID}",
        "DTSTAMP:20261202T100000Z",
        "SUMMARY:Weekly call",
        f"RECURRENCE-ID;RANGE=THISANDFUTURE;TZID={TZID}:20270405T100000",
        f"DTSTART;TZID={TZID}:20270405T150000",
        f"DTEND;TZID={TZID}:20270405T160000",
        "END:VEVENT",
    ]
    text = outlook_object([*SERIES, *moved])
    rule_gives = [start for start, _ in expanded(outlook_object(SERIES))]

    event = parse_event(text, remote_id="/alice/work/f3-following.ics")
    master = inbound.import_remote_event(alice, event)

    assert [o.original_start.astimezone(UTC) for o in event.overrides] == rule_gives[5:]
    assert in_helpdesk(master) == expanded(text)


def test_this_and_following_on_the_pulled_series_pushes_both_halves_on_the_block(
    pulled, alice_calendar, alice_phone, django_capture_on_commit_callbacks
):
    """Task times, fault 2, checked on the text pushed: "this and following" from 29 March (after the
    block's clock change) renamed. Each half's object on the server carries the organiser's block
    under its TZID and repeats on it (RFC 5545 3.3.10): recurring-ical-events on the two objects
    gives the helpdesk's occurrences, 10:00 on the block's clock throughout. Both keep what the
    helpdesk does not model (an X- property, CATEGORIES), as Outlook and Google keep it on both
    halves of a split; the new half's entry was made without them."""
    from calendars.models import EditScope

    # What the helpdesk does not model, set by the organiser's client and pulled before the split.
    alice_phone.edit(UID, **{"x-organiser-note": "keep me", "categories": "Customer"})
    with django_capture_on_commit_callbacks(execute=True):
        alice_calendar.refresh_from_db()
        engine.sync_agent_calendar(alice_calendar, pull=True, now=NOW)
    before = expanded(alice_phone.by_uid(UID).data)
    occurrence = Appointment.objects.get(master=pulled, original_start=datetime(2027, 3, 29, 6, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        new = calendar_services.edit_occurrences(occurrence, scope=EditScope.FOLLOWING, subject="Weekly call (new)")

    texts = [alice_phone.by_uid(link.marker).data for link in SyncLink.objects.filter(appointment__in=[pulled, new])]
    assert len(texts) == 2
    for text in texts:
        blocks = re.findall(r"BEGIN:VTIMEZONE.*?END:VTIMEZONE", text.replace("\r\n", "\n"), re.S)
        assert [icalendar.Timezone.from_ical(block).to_ical() for block in blocks] == [
            icalendar.Timezone.from_ical(BLOCK).to_ical()
        ]
        [master] = [v for v in icalendar.Calendar.from_ical(text).walk("VEVENT") if "RECURRENCE-ID" not in v]
        assert str(master.get("X-ORGANISER-NOTE")) == "keep me"
        assert master.get("CATEGORIES").to_ical() == b"Customer"
    assert {link.remote_id for link in SyncLink.objects.filter(appointment__in=[pulled, new])} != {""}
    on_server = sorted(span for text in texts for span in expanded(text))
    assert on_server == before
    assert sorted([*in_helpdesk(pulled), *in_helpdesk(new)]) == before
