"""A monthly series on the 29th, 30th or 31st skips the months without that day (RFC 5545 3.3.10:
"if a day does not exist in a month it is ignored"). It is valid and kept, but the page and the
API say which months its first year skips, and offer the last day of the month (BYMONTHDAY=-1)
where that is likely what was meant (trial: it skipped them without a word).

The expected months come from dateutil's rrule: the months of the first year with no occurrence,
never from our own code."""

import html
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule

from calendars.models import Appointment

AMS = ZoneInfo("Europe/Amsterdam")
LIST = "/api/appointments/"


def skipped_by_dateutil(first: datetime, *, interval: int = 1, count: int | None = None) -> list[str]:
    """YYYY-MM of the months of the first year (twelve from `first`'s, every `interval`-th, up to the
    last occurrence when `count` ends the rule first) where dateutil gives no occurrence on
    `first`'s day of the month."""
    year_end = datetime(first.year + 1, first.month, 1)
    given = list(rrule.rrule(rrule.MONTHLY, interval=interval, bymonthday=first.day, dtstart=first, count=count))
    within = [moment for moment in given if moment < year_end]
    end = datetime(within[-1].year, within[-1].month, 1) if count and len(given) == count else year_end
    visited = rrule.rrule(rrule.MONTHLY, interval=interval, dtstart=first.replace(day=1), until=end)
    have = {(moment.year, moment.month) for moment in within}
    return [f"{month:%Y-%m}" for month in visited if (month.year, month.month) not in have and month < year_end]


def post_series(client, agent, start: str, end: str, rule: str) -> dict:
    body = {"subject": "Month end", "start": start, "end": end, "agents": [agent.pk], "recurrence": rule}
    response = client.post(LIST, {**body, "confirm_overlap": True}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_api_series_on_the_31st_names_the_months_it_skips_and_offers_the_last_day(api_client, alice):
    body = post_series(
        api_client(alice.user), alice, "2027-01-31T09:00:00+01:00", "2027-01-31T10:00:00+01:00", "FREQ=MONTHLY"
    )

    expected = skipped_by_dateutil(datetime(2027, 1, 31, 9))
    assert expected == ["2027-02", "2027-04", "2027-06", "2027-09", "2027-11"]  # the calendar, for a reader
    [warning] = body["rule_warnings"]
    assert warning["code"] == "skipped_months"
    assert warning["months"] == expected
    assert "February 2027, April 2027, June 2027, September 2027 and November 2027" in warning["message"]
    assert warning["suggested_recurrence"] == "FREQ=MONTHLY;BYMONTHDAY=-1"
    # The suggestion gives every month's last day (dateutil), and the series is kept as given.
    last_days = rrule.rrulestr(warning["suggested_recurrence"], dtstart=datetime(2027, 1, 31, 9))
    assert [moment.date() for moment in last_days[:3]] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]
    assert Appointment.objects.get(pk=body["id"]).is_recurring_master
    # Read again, it is no answer to a rule given: null.
    assert api_client(alice.user).get(f"{LIST}{body['id']}/").json()["rule_warnings"] is None


def test_api_rule_changed_to_every_two_months_names_only_the_months_it_visits(api_client, alice):
    client = api_client(alice.user)
    body = post_series(client, alice, "2026-12-31T09:00:00+01:00", "2026-12-31T10:00:00+01:00", "FREQ=WEEKLY")
    assert body["rule_warnings"] == []

    response = client.patch(
        f"{LIST}{body['id']}/", {"recurrence": "FREQ=MONTHLY;INTERVAL=2", "confirm_overlap": True}, format="json"
    )

    assert response.status_code == 200, response.content
    [warning] = response.json()["rule_warnings"]
    # December, February, April, ... October: September and November are not its months.
    expected = skipped_by_dateutil(datetime(2026, 12, 31, 9), interval=2)
    assert warning["months"] == expected == ["2027-02", "2027-04", "2027-06"]
    assert warning["suggested_recurrence"] == "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1"


def test_api_rule_with_count_names_the_skipped_months_before_its_end(api_client, alice):
    client = api_client(alice.user)
    body = post_series(
        client, alice, "2027-01-31T09:00:00+01:00", "2027-01-31T10:00:00+01:00", "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"
    )

    [warning] = body["rule_warnings"]
    assert warning["months"] == skipped_by_dateutil(datetime(2027, 1, 31, 9), count=3) == ["2027-02", "2027-04"]
    assert warning["suggested_recurrence"] == "FREQ=MONTHLY;COUNT=3;BYMONTHDAY=-1"


@pytest.mark.parametrize(
    ("first", "months", "suggested"),
    [
        # The 30th of a 30-day month is its last day: the last day is likely meant.
        (datetime(2027, 4, 30, 9), ["2028-02"], "FREQ=MONTHLY;BYMONTHDAY=-1"),
        # The 29th of a 31-day month is not: nothing is suggested.
        (datetime(2027, 1, 29, 9), ["2027-02"], None),
    ],
)
def test_api_rule_offers_the_last_day_only_from_a_months_last_day(api_client, alice, first, months, suggested):
    start = first.replace(tzinfo=AMS)
    body = post_series(
        api_client(alice.user), alice, start.isoformat(), (start + timedelta(hours=1)).isoformat(), "FREQ=MONTHLY"
    )

    [warning] = body["rule_warnings"]
    assert warning["months"] == skipped_by_dateutil(first) == months
    assert warning["suggested_recurrence"] == suggested
    assert ("send recurrence" in warning["message"]) == (suggested is not None)


def test_page_series_on_the_31st_warns_of_the_skipped_months_and_offers_the_last_day(page_client, alice):
    client = page_client(alice.user)
    fields = {"subject": "Month end", "agents": [alice.pk], "repeat": "monthly", "confirm_overlap": "on"}
    times = {"start": "2027-01-31T09:00", "end": "2027-01-31T10:00"}

    response = client.post("/calendar/appointments/new/", {**fields, **times}, follow=True)

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "February 2027, April 2027, June 2027, September 2027 and November 2027" in page
    assert skipped_by_dateutil(datetime(2027, 1, 31, 9)) == ["2027-02", "2027-04", "2027-06", "2027-09", "2027-11"]
    assert 'choose Repeat "Every month, on its last day"' in page
    # It was made as asked, not refused.
    assert Appointment.objects.filter(subject="Month end", schedule__isnull=False).count() == 1


def test_page_last_day_choice_repeats_on_every_months_last_day(page_client, alice):
    client = page_client(alice.user)
    fields = {"subject": "Month end", "agents": [alice.pk], "repeat": "monthly_last", "confirm_overlap": "on"}
    times = {"start": "2027-01-31T09:00", "end": "2027-01-31T10:00", "repeat_until": "2027-06-30"}

    response = client.post("/calendar/appointments/new/", {**fields, **times}, follow=True)

    assert response.status_code == 200
    master = Appointment.objects.get(subject="Month end", schedule__isnull=False)
    days = sorted(start.date() for start in master.occurrences.values_list("original_start", flat=True))
    expected = rrule.rrule(rrule.MONTHLY, bymonthday=-1, dtstart=datetime(2027, 1, 31), until=datetime(2027, 6, 30))
    assert days == [moment.date() for moment in expected]
    assert "skipped" not in html.unescape(response.content.decode())
