"""An all-day entry's `start` and `end` over the API name its days on every reader's clock (trial:
a New York reader of an Amsterdam technician's day off on 21 December read `start`
"2026-12-20T18:00:00-05:00", a timed entry on the day before).

RFC 5545 3.3.4: a DATE value is a calendar day, not an instant, and 3.6.1: DTEND of an all-day
VEVENT is the day after the last. The expected days come from icalendar reading the VEVENT the
entry stands for, never from our code; `start`/`end` stay date-times (the midnights of those days
on the reader's clock) for clients that read them so, and `start_date`/`end_date` are the days."""

from datetime import date, datetime, timedelta

import icalendar
import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from calendars import services as calendar_services

LIST = "/api/appointments/"


def vevent_days(first: date, after: date) -> tuple[date, date]:
    """(DTSTART, DTEND) of an all-day VEVENT as icalendar decodes them."""
    event = icalendar.Event()
    event.add("dtstart", first)
    event.add("dtend", after)
    return event.decoded("dtstart"), event.decoded("dtend")


@pytest.fixture
def day_off(alice):
    """Alice's (Amsterdam) day off on Monday 21 December 2026."""
    return calendar_services.create_appointment(
        subject="Day off", start=date(2026, 12, 21), end=date(2026, 12, 22), all_day=True, agents=[alice]
    )


def signed_in(user) -> APIClient:
    """A session, as a browser or token has it: the reader's own zone is the current one (DRF's
    force_authenticate would leave the site's zone)."""
    client = APIClient()
    client.force_login(user)
    return client


def read_days(item: dict) -> tuple[date, date]:
    return datetime.fromisoformat(item["start"]).date(), datetime.fromisoformat(item["end"]).date()


@pytest.mark.parametrize("reader_name", ["alice", "frank", "kiri"])
def test_an_all_day_entrys_start_and_end_read_as_its_days_on_every_clock(
    make_agent, alice, frank, day_off, reader_name
):
    """Amsterdam (its own clock), New York (behind) and Auckland (ahead) read the same days."""
    readers = {"alice": alice, "frank": frank}
    reader = readers.get(reader_name) or make_agent(reader_name, time_zone="Pacific/Auckland")
    client = signed_in(reader.user)
    expected = vevent_days(date(2026, 12, 21), date(2026, 12, 22))

    one = client.get(f"{LIST}{day_off.pk}/").json()
    listed = client.get(LIST, {"start": "2026-12-14", "end": "2026-12-28", "agent": alice.pk}).json()["results"]
    window = client.get(f"{LIST}calendar/", {"start": "2026-12-14", "end": "2026-12-28", "agent": alice.pk}).json()

    for item in (one, *listed, *window):
        assert item["all_day"] is True
        assert (item["start_date"], item["end_date"]) == tuple(day.isoformat() for day in expected)
        assert read_days(item) == expected
        # Midnights on the reader's clock: a date-time still, as before, on the right day.
        assert item["start"][11:19] == item["end"][11:19] == "00:00:00"
        assert (
            datetime.fromisoformat(item["start"]).utcoffset() == datetime(2026, 12, 21, tzinfo=reader.zone).utcoffset()
        )


def test_an_all_day_entry_read_and_sent_back_keeps_its_days(make_agent, alice, day_off):
    """A New York coordinator PUTs back what she read: the days do not move (round trip)."""
    nina = make_agent("nina", time_zone="America/New_York")
    nina.user.user_permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
    client = signed_in(User.objects.get(pk=nina.user.pk))
    item = client.get(f"{LIST}{day_off.pk}/").json()
    body = {key: item[key] for key in ("subject", "start", "end", "all_day", "agents")}

    answer = client.put(f"{LIST}{day_off.pk}/", {**body, "confirm_overlap": True}, format="json")

    assert answer.status_code == 200, answer.content
    day_off.refresh_from_db()
    assert (day_off.start_date, day_off.end_date) == vevent_days(date(2026, 12, 21), date(2026, 12, 22))
    assert read_days(answer.json()) == (date(2026, 12, 21), date(2026, 12, 22))
    assert datetime.fromisoformat(answer.json()["end"]) - datetime.fromisoformat(answer.json()["start"]) == timedelta(
        days=1
    )
