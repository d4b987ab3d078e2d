"""A whole series moved to another weekday or day of the month moves as a whole, as Outlook and
Google move it (trial fault 1): the rule's BYDAY / BYMONTHDAY / BYMONTH move with the start, so the
new start is the series' first instance (RFC 5545 3.8.5.3), and its exceptions (EXDATE, RECURRENCE-ID)
move by the same days; one is dropped, and named once, only when the new rule has no such start.
The page and the API do the same. After the move every occurrence is checked against the
technicians' other entries and working hours, not only the master's new time (trial fault 2).

Oracle: dateutil's rrulestr expansion of the rule before the move, shifted by the move, equals its
expansion of the rule after the move."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurrence as recurrence_lib
from dateutil.rrule import rrulestr

from calendars import services as calendar_services
from calendars.models import Appointment
from calendars.selectors import series_exceptions

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")


def expanded(rule: str, first: datetime, zone: ZoneInfo = AMS) -> list[datetime]:
    """dateutil's starts of `rule` from `first` (wall clock of `zone`), up to 2028, on that wall clock."""
    start = first.replace(tzinfo=zone)
    given = rrulestr(rule, dtstart=start).between(start, datetime(2028, 1, 1, tzinfo=zone), inc=True)
    return [moment.replace(tzinfo=None) for moment in given]


def shown_starts(master: Appointment, zone: ZoneInfo) -> list[datetime]:
    rows = Appointment.objects.visible().filter(master=master).order_by("start").values_list("start", flat=True)
    return [start.astimezone(zone).replace(tzinfo=None) for start in rows]


def stored_rule(master: Appointment) -> str:
    [line] = Appointment.objects.get(pk=master.pk).schedule.recurrence.rrules
    return recurrence_lib.serialize(recurrence_lib.Recurrence(rrules=[line])).removeprefix("RRULE:")


def series(agent, rule: str, start: datetime, minutes: int = 60) -> Appointment:
    return calendar_services.create_recurring_appointment(
        rule=rule, agents=[agent], subject="Trial series", start=start, end=start + timedelta(minutes=minutes)
    )


def moved_on_its_own(master: Appointment, original_start: datetime, start: datetime) -> None:
    """The occurrence of `original_start` moved on its own to `start`, an hour long."""
    occurrence = master.occurrences.get(original_start=original_start)
    calendar_services.update_appointment(occurrence, start=start, end=start + timedelta(hours=1))


def moved_over_api(client, master: Appointment, start: str, end: str) -> dict:
    """PATCH the master's new start and end (confirmed), as the trial did; the answer's body."""
    response = client.patch(
        f"/api/appointments/{master.pk}/", {"start": start, "end": end, "confirm_overlap": True}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_weekly_wednesday_count_4_moved_to_thursday_on_the_page_moves_the_whole_series(page_client, alice):
    """Trial: FREQ=WEEKLY;BYDAY=WE;COUNT=4 from Wed 3 Feb 2027 10:00, its start set to Thu 4 Feb on
    "Edit the whole series". It kept BYDAY=WE, lost 3 Feb, and gained 3 Mar."""
    first = datetime(2027, 2, 3, 10)
    master = series(alice, "FREQ=WEEKLY;BYDAY=WE;COUNT=4", first.replace(tzinfo=AMS))

    response = page_client(alice.user).post(
        f"/calendar/appointments/{master.pk}/",
        {
            "subject": master.subject,
            "start": "2027-02-04T10:00",
            "end": "2027-02-04T11:00",
            "agents": [alice.pk],
            "repeat": "keep",
            "repeat_until": "",
            "confirm_overlap": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    before = expanded("FREQ=WEEKLY;BYDAY=WE;COUNT=4", first)
    after = expanded("FREQ=WEEKLY;BYDAY=TH;COUNT=4", first + timedelta(days=1))
    assert [start + timedelta(days=1) for start in before] == after
    assert stored_rule(master) == "FREQ=WEEKLY;COUNT=4;BYDAY=TH"
    assert shown_starts(master, AMS) == after
    assert series_exceptions(Appointment.objects.get(pk=master.pk)).cancelled == []


def test_weekly_monday_count_6_in_new_york_moved_to_tuesday_over_the_api_keeps_its_exceptions(api_client, make_agent):
    """Trial: FREQ=WEEKLY;COUNT=6;BYDAY=MO from Mon 1 Mar 2027 09:00 New York (US summer time from 14
    Mar), 15 Mar moved to 13:00 on its own, 22 Mar cancelled; PATCH start Tue 2 Mar 09:00-05:00. The
    series stayed on Mondays, lost 1 Mar, and both exceptions were dropped."""
    frank = make_agent("frank", time_zone="America/New_York")
    first = datetime(2027, 3, 1, 9)
    master = series(frank, "FREQ=WEEKLY;COUNT=6;BYDAY=MO", first.replace(tzinfo=NEW_YORK))
    moved_on_its_own(master, datetime(2027, 3, 15, 9, tzinfo=NEW_YORK), datetime(2027, 3, 15, 13, tzinfo=NEW_YORK))
    calendar_services.cancel_occurrence(
        master.occurrences.get(original_start=datetime(2027, 3, 22, 9, tzinfo=NEW_YORK))
    )

    body = moved_over_api(api_client(frank.user), master, "2027-03-02T09:00:00-05:00", "2027-03-02T10:00:00-05:00")

    before = expanded("FREQ=WEEKLY;COUNT=6;BYDAY=MO", first, NEW_YORK)
    after = expanded("FREQ=WEEKLY;COUNT=6;BYDAY=TU", first + timedelta(days=1), NEW_YORK)
    assert [start + timedelta(days=1) for start in before] == after
    assert body["recurrence"] == "FREQ=WEEKLY;COUNT=6;BYDAY=TU"
    assert body["dropped_exceptions"] == []
    assert [datetime.fromisoformat(day) for day in body["cancelled_starts"]] == [
        datetime(2027, 3, 23, 9, tzinfo=NEW_YORK)
    ]
    found = series_exceptions(Appointment.objects.get(pk=master.pk))
    assert [(m.original_start, m.start) for m in found.moved] == [
        (datetime(2027, 3, 16, 9, tzinfo=NEW_YORK), datetime(2027, 3, 15, 13, tzinfo=NEW_YORK))
    ]
    cancelled, moved_key = datetime(2027, 3, 23, 9), datetime(2027, 3, 16, 9)
    want = sorted([start for start in after if start not in (cancelled, moved_key)] + [datetime(2027, 3, 15, 13)])
    assert shown_starts(master, NEW_YORK) == want


def test_monthly_last_friday_moved_a_day_earlier_becomes_last_thursday_with_its_exceptions(api_client, alice):
    """Trial: FREQ=MONTHLY;BYDAY=-1FR from Fri 29 Jan 2027 16:00 Amsterdam, 30 Apr cancelled, 26
    Feb moved to 10:00, its start moved to Thu 28 Jan. Nothing moved, both exceptions were dropped,
    and `dropped_exceptions` named 30 Apr twice. Now the rule is -1TH (Outlook: "last Thursday"),
    the exceptions move a day earlier, and the one whose Thursday is not the month's last (24 Sep
    2027: Thu 23, while 30 Sep is the last Thursday) is dropped and named once."""
    first = datetime(2027, 1, 29, 16)
    master = series(alice, "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20271231T230000Z", first.replace(tzinfo=AMS))
    moved_on_its_own(master, datetime(2027, 2, 26, 16, tzinfo=AMS), datetime(2027, 2, 26, 10, tzinfo=AMS))
    cancelled = [datetime(2027, 4, 30, 16, tzinfo=AMS), datetime(2027, 9, 24, 16, tzinfo=AMS)]
    # Cancelled as the API and a pull cancel them: on the rule (EXDATE) and on the made row.
    calendar_services.keep_cancelled_starts(master, cancelled)
    for occurrence in master.occurrences.filter(original_start__in=cancelled, is_cancelled=False):
        calendar_services.cancel_occurrence(occurrence)

    body = moved_over_api(api_client(alice.user), master, "2027-01-28T16:00:00+01:00", "2027-01-28T17:00:00+01:00")

    # UNTIL moves a day earlier with the series too (RFC 5545 3.3.10; as Outlook and Google move it).
    after = expanded("FREQ=MONTHLY;BYDAY=-1TH;UNTIL=20271230T230000Z", first - timedelta(days=1))
    assert body["recurrence"] == "FREQ=MONTHLY;UNTIL=20271230T230000Z;BYDAY=-1TH"
    assert body["dropped_exceptions"] == ["2027-09-24T16:00:00+02:00"]
    assert body["cancelled_starts"] == ["2027-04-29T16:00:00+02:00"]
    found = series_exceptions(Appointment.objects.get(pk=master.pk))
    assert [(m.original_start, m.start) for m in found.moved] == [
        (datetime(2027, 2, 25, 16, tzinfo=AMS), datetime(2027, 2, 26, 10, tzinfo=AMS))
    ]
    want = [start for start in after if start not in (datetime(2027, 4, 29, 16), datetime(2027, 2, 25, 16))]
    assert shown_starts(master, AMS) == sorted([*want, datetime(2027, 2, 26, 10)])
    # Each kept exception's shifted start is one the new rule gives.
    before = expanded("FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20271231T230000Z", first)
    for kept in (datetime(2027, 2, 26, 16), datetime(2027, 4, 30, 16)):
        assert kept in before and kept - timedelta(days=1) in after
    assert datetime(2027, 9, 23, 16) not in after


def test_monthly_day_29_moved_to_30_over_the_api_asks_about_every_occurrence_then_repeats_on_the_30th(
    api_client, alice
):
    """Trial: the API kept BYMONTHDAY=29 (the page wrote 30), and answered 200 without asking
    though the moved series falls on Sat 30 Jan and Sun 30 May 2027, outside Alice's Mon-Fri week."""
    first = datetime(2027, 1, 29, 9)
    rule = "FREQ=MONTHLY;BYMONTHDAY=29;UNTIL=20270630T215959Z"
    master = series(alice, rule, first.replace(tzinfo=AMS))
    client = api_client(alice.user)
    moved = {"start": "2027-01-30T09:00:00+01:00", "end": "2027-01-30T10:00:00+01:00"}

    asked = client.patch(f"/api/appointments/{master.pk}/", moved, format="json")

    assert asked.status_code == 409, asked.content
    named = [outside["message"] for outside in asked.json()["outside_working_hours"]]
    assert any("Sat 30 Jan 2027" in line for line in named), named
    assert any("Sun 30 May 2027" in line for line in named), named
    assert Appointment.objects.get(pk=master.pk).start == first.replace(tzinfo=AMS)  # nothing saved
    assert stored_rule(master) == "FREQ=MONTHLY;UNTIL=20270630T215959Z;BYMONTHDAY=29"

    saved = client.patch(f"/api/appointments/{master.pk}/", {**moved, "confirm_overlap": True}, format="json")

    assert saved.status_code == 200, saved.content
    # UNTIL moves a day later with the series (RFC 5545 3.3.10): 30 June stays the last occurrence.
    after = expanded("FREQ=MONTHLY;BYMONTHDAY=30;UNTIL=20270701T215959Z", first + timedelta(days=1))
    assert after[-1] == datetime(2027, 6, 30, 9)
    assert saved.json()["recurrence"] == "FREQ=MONTHLY;UNTIL=20270701T215959Z;BYMONTHDAY=30"
    assert shown_starts(master, AMS) == after


def test_monthly_day_29_moved_to_30_on_the_page_names_every_occurrence_outside_working_days(page_client, alice):
    """Trial fault 2 on the page: moving the series from the 29th to the 30th asked only about
    "Sat 30 Jan 2027", not Sun 30 May 2027 (dateutil: the 30ths up to June falling on a weekend)."""
    first = datetime(2027, 1, 29, 9)
    master = series(alice, "FREQ=MONTHLY;BYMONTHDAY=29;UNTIL=20270630T215959Z", first.replace(tzinfo=AMS))
    weekend = [
        day
        for day in expanded("FREQ=MONTHLY;BYMONTHDAY=30;UNTIL=20270630T215959Z", first + timedelta(days=1))
        if day.weekday() >= 5
    ]
    assert [day.date().isoformat() for day in weekend] == ["2027-01-30", "2027-05-30"]
    fields = {
        "subject": master.subject,
        "start": "2027-01-30T09:00",
        "end": "2027-01-30T10:00",
        "agents": [alice.pk],
        "repeat": "monthly",
        "repeat_until": "2027-06-30",
    }

    response = page_client(alice.user).post(f"/calendar/appointments/{master.pk}/", fields)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Sat 30 Jan 2027" in page and "Sun 30 May 2027" in page
    assert Appointment.objects.get(pk=master.pk).start == first.replace(tzinfo=AMS)  # nothing saved yet


def test_a_series_whose_rule_cannot_follow_its_new_day_is_refused_and_nothing_is_saved(api_client, alice):
    """BYYEARDAY=60 (1 Mar 2027) moved to 2 Mar: dateutil's first start of the rule from 2 Mar is not
    2 Mar, so the saved DTSTART would not be the first instance (RFC 5545 3.8.5.3): refused."""
    first = datetime(2027, 3, 1, 9)
    rule = "FREQ=YEARLY;COUNT=3;BYYEARDAY=60"
    assert expanded(rule, first)[0] == first
    assert expanded(rule, first + timedelta(days=1))[:1] != [first + timedelta(days=1)]
    master = series(alice, rule, first.replace(tzinfo=AMS))

    response = api_client(alice.user).patch(
        f"/api/appointments/{master.pk}/",
        {"start": "2027-03-02T09:00:00+01:00", "end": "2027-03-02T10:00:00+01:00", "confirm_overlap": True},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert "cannot move to the new day" in response.json()["start"][0]
    assert Appointment.objects.get(pk=master.pk).start == first.replace(tzinfo=AMS)
