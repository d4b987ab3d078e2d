"""A single entry in the repeated hour of the autumn change on Google (task autumn, fault 2).

An EventDateTime's dateTime is RFC 3339 with its offset (calendar v3 "Events" resource), so the
second 02:30 (+01:00) is said without doubt even with timeZone "Europe/Amsterdam". Expected instants:
zoneinfo's PEP 495 fold (tests/repeated_hour.py); the stored event read by the local Google peer.
"""

from datetime import datetime

import pytest

from tests.repeated_hour import CASES, kept_after_an_edit_elsewhere, night_job

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def _stored(google) -> tuple[datetime, datetime]:
    [event] = google.events(ALICE)
    return tuple(datetime.fromisoformat(event[side]["dateTime"].replace("Z", "+00:00")) for side in ("start", "end"))


@pytest.mark.parametrize("case", CASES)
def test_a_repeated_hour_entry_reaches_google_and_comes_back_as_its_own_instants(
    case, alice_google, google, django_capture_on_commit_callbacks
):
    _start, _end, start_utc, end_utc = CASES[case]
    appointment = night_job(case, alice_google.agent, django_capture_on_commit_callbacks)
    assert _stored(google) == (start_utc, end_utc)

    def phone_edit():
        [event] = google.events(ALICE)
        google.phone_patch(ALICE, event["id"], location="Server room")

    kept_after_an_edit_elsewhere(case, appointment, alice_google, phone_edit)
    assert _stored(google) == (start_utc, end_utc)


def test_a_series_extra_start_at_the_second_repeated_hour_reaches_google_at_that_instant(
    alice_google, google, django_capture_on_commit_callbacks
):
    """Task times, fault 1 on Google: the `recurrence` member holds RFC 5545 lines; an RDATE at the
    second 02:30 of 31 Oct 2027 in Europe/Amsterdam (01:30 UTC, dateutil's fold=1) goes on a UTC
    line, so recurring-ical-events reading the stored lines gives the helpdesk's occurrences."""
    from datetime import UTC

    import icalendar
    import recurring_ical_events
    from dateutil import tz as dateutil_tz

    from tests.repeated_hour import patch_runs_with_an_extra_start

    _master, second, held = patch_runs_with_an_extra_start(
        alice_google.agent, "Europe/Amsterdam", django_capture_on_commit_callbacks
    )
    assert second in held

    [event] = [e for e in google.events(ALICE) if e.get("recurrence")]
    local = datetime.fromisoformat(event["start"]["dateTime"]).astimezone(dateutil_tz.gettz(event["start"]["timeZone"]))
    text = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//test//EN",
            "BEGIN:VEVENT",
            "UID:google-series",
            "DTSTAMP:20271001T000000Z",
            f"DTSTART;TZID={event['start']['timeZone']}:{local.strftime('%Y%m%dT%H%M%S')}",
            "DURATION:PT1H",
            *event["recurrence"],
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    shown = recurring_ical_events.of(icalendar.Calendar.from_ical(text)).between(
        datetime(2027, 10, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC)
    )
    assert sorted(e.start.astimezone(UTC) for e in shown) == held
