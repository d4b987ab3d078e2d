"""A recurring meeting is one moment: every technician's copy follows the series' ONE clock, chosen
on the form or in the API (default: the creating user's zone), stored, and named (trial faults 2
and 9). Expected moments come from dateutil's rrule read through zoneinfo, not from our code."""

import re
import zoneinfo
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule

from calendars.models import Appointment

pytestmark = pytest.mark.django_db

AMS, LONDON, NEW_YORK = ZoneInfo("Europe/Amsterdam"), ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
# The weeks the US is on summer time and the UK not yet (trial fault 2).
MARCH_FROM, MARCH_TO = datetime(2027, 3, 12, tzinfo=UTC), datetime(2027, 3, 30, tzinfo=UTC)


def expected(dtstart: datetime, zone: ZoneInfo, low: datetime, high: datetime, **rule) -> list[datetime]:
    """dateutil's starts of the rule on `zone`'s wall clock, as UTC instants in [low, high)."""
    starts = rrule.rrule(dtstart=dtstart.replace(tzinfo=None), **rule)
    moments = (start.replace(tzinfo=zone).astimezone(UTC) for start in starts)
    return [moment for moment in moments if low <= moment < high]


def starts_of(master: Appointment, low: datetime, high: datetime) -> list[datetime]:
    rows = master.occurrences.filter(start__gte=low, start__lt=high, is_cancelled=False).order_by("start")
    return [start.astimezone(UTC) for start in rows.values_list("start", flat=True)]


def test_one_entry_per_technician_series_follow_one_clock_across_the_march_weeks(
    coordinator, carol, frank, page_client
):
    answer = page_client(coordinator).post(
        "/calendar/appointments/new/",
        {
            "subject": "Transatlantic daily sync",
            "start": "2026-12-14T15:00",
            "end": "2026-12-14T15:15",
            "agents": [carol.pk, frank.pk],
            "entries": "each",
            "repeat": "workdays",
            "repeat_until": "2027-04-02",
            "confirm_overlap": "on",
        },
    )

    assert answer.status_code == 302, answer.content
    masters = list(Appointment.objects.filter(schedule__isnull=False).order_by("pk"))
    assert len(masters) == 2
    # The coordinator's clock (the site's zone, Europe/Amsterdam) is the default: 15:00 there every working day.
    want = expected(datetime(2026, 12, 14, 15, 0), AMS, MARCH_FROM, MARCH_TO, freq=rrule.WEEKLY, byweekday=range(5))
    assert len(want) == 12
    assert starts_of(masters[0], MARCH_FROM, MARCH_TO) == want
    assert starts_of(masters[1], MARCH_FROM, MARCH_TO) == want
    assert [str(master.schedule.time_zone) for master in masters] == ["Europe/Amsterdam"] * 2


def test_the_form_shows_the_creating_users_zone_as_the_series_clock(carol, page_client):
    page = page_client(carol.user).get("/calendar/appointments/new/").content.decode()

    assert 'name="time_zone"' in page
    assert '<option value="Europe/London" selected>' in page
    assert "First technician" not in page and "first technician" not in page


def test_a_series_made_on_the_form_follows_the_zone_chosen_there(coordinator, carol, frank, page_client):
    page_client(coordinator).post(
        "/calendar/appointments/new/",
        {
            "subject": "NY stand-up",
            "start": "2027-03-08T15:00",  # 09:00 in New York that day
            "end": "2027-03-08T15:15",
            "agents": [carol.pk, frank.pk],
            "entries": "shared",
            "repeat": "weekly",
            "repeat_until": "2027-03-29",
            "time_zone": "America/New_York",
            "confirm_overlap": "on",
        },
    )

    master = Appointment.objects.get(schedule__isnull=False)
    low, high = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
    assert starts_of(master, low, high) == expected(
        datetime(2027, 3, 8, 9, 0), NEW_YORK, low, high, freq=rrule.WEEKLY, count=4
    )


MARCH = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
WEEKLY_FOUR = "FREQ=WEEKLY;BYDAY=MO;COUNT=4"


def post_series(client, agents, *, start="2027-03-08T15:00:00", end="2027-03-08T15:30:00", **fields):
    """POST /api/appointments/ of a series (`fields` add to or replace the body's)."""
    body = {"subject": "Joint weekly", "start": start, "end": end, "agents": [agent.pk for agent in agents]}
    body |= {"recurrence": WEEKLY_FOUR, "confirm_overlap": True} | fields
    return client.post("/api/appointments/", body, format="json")


def test_the_api_series_follows_the_callers_clock_not_the_first_agent_in_the_body(
    coordinator, carol, frank, api_client
):
    answer = post_series(api_client(coordinator), [frank, carol])

    assert answer.status_code == 201, answer.json()
    assert answer.json()["time_zone"] == "Europe/Amsterdam"
    master = Appointment.objects.get(pk=answer.json()["id"])
    assert starts_of(master, *MARCH) == expected(datetime(2027, 3, 8, 15, 0), AMS, *MARCH, freq=rrule.WEEKLY, count=4)


def test_the_api_series_follows_the_zone_given(coordinator, carol, frank, api_client):
    answer = post_series(
        api_client(coordinator),
        [carol, frank],
        start="2027-03-08T09:00:00-05:00",
        end="2027-03-08T09:30:00-05:00",
        time_zone="America/New_York",
    )

    assert answer.status_code == 201, answer.json()
    assert answer.json()["time_zone"] == "America/New_York"
    master = Appointment.objects.get(pk=answer.json()["id"])
    assert starts_of(master, *MARCH) == expected(
        datetime(2027, 3, 8, 9, 0), NEW_YORK, *MARCH, freq=rrule.WEEKLY, count=4
    )


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"time_zone": "Europe/London", "recurrence": ""}, "give it with `recurrence`"),
        ({"time_zone": "Mars/Olympus"}, "IANA time zone name"),
    ],
)
def test_the_api_refuses_a_time_zone_it_cannot_use(coordinator, carol, api_client, extra, problem):
    answer = post_series(api_client(coordinator), [carol], **extra)

    assert answer.status_code == 400
    assert problem in " ".join(answer.json()["time_zone"])
    assert not Appointment.objects.exists()


def test_a_patch_with_another_zone_moves_the_series_to_that_clock_at_the_same_wall_clock_time(
    coordinator, carol, api_client
):
    client = api_client(coordinator)
    made = post_series(client, [carol]).json()  # Mondays 15:00 Amsterdam from 8 Mar 2027, four times

    same = client.patch(f"/api/appointments/{made['id']}/", {"time_zone": "Europe/Amsterdam"}, format="json")
    # 15:00 in New York is 21:00 for Carol in London, after her working hours: confirmed.
    body = {"time_zone": "America/New_York", "confirm_overlap": True}
    other = client.patch(f"/api/appointments/{made['id']}/", body, format="json")

    assert same.status_code == 200
    assert other.status_code == 200, other.json()
    assert other.json()["time_zone"] == "America/New_York"
    assert other.json()["dropped_exceptions"] == []
    master = Appointment.objects.get(pk=made["id"])
    assert starts_of(master, *MARCH) == expected(
        datetime(2027, 3, 8, 15, 0), NEW_YORK, *MARCH, freq=rrule.WEEKLY, count=4
    )


def test_an_all_day_series_refuses_another_zone_on_patch(coordinator, carol, api_client):
    client = api_client(coordinator)
    made = post_series(client, [carol], all_day=True, start="2027-03-08", end="2027-03-09").json()

    other = client.patch(f"/api/appointments/{made['id']}/", {"time_zone": "America/New_York"}, format="json")

    assert other.status_code == 400
    assert "same on every clock" in other.json()["time_zone"][0]


def test_the_series_page_names_its_zone(coordinator, carol, api_client, page_client):
    made = post_series(api_client(coordinator), [carol], time_zone="America/New_York").json()

    page = page_client(carol.user).get(f"/calendar/appointments/{made['id']}/").content.decode()

    assert "Series time zone" in page and "America/New_York" in page


def test_the_series_zone_list_offers_the_tz_database_zones_and_not_the_servers_localtime(carol, page_client):
    """Trial: the list offered "localtime" (this server's /etc/localtime), which no other calendar
    knows by that name; it offers what a technician's zone may be (zoneinfo's names less
    "localtime" and "Factory"), as the admin does."""
    page = page_client(carol.user).get("/calendar/appointments/new/").content.decode()
    select = re.search(r'<select name="time_zone".*?</select>', page, re.S).group(0)
    offered = set(re.findall(r'<option value="([^"]*)"', select)) - {""}

    assert offered == zoneinfo.available_timezones() - {"localtime", "Factory"}
