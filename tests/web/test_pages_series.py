"""A recurring series made without admin (trial of main: the pages and the API could only make
single appointments; a series needed Django admin and its RRULE syntax, README "Recurring").

The expected starts come from dateutil's rrule (an independent RFC 5545 expansion) over the
series' wall clock, never from our own recurrence code."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule
from lxml import html

from calendars import services as calendar_services
from calendars.models import Appointment

AMS = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")


def day_text(moment: datetime) -> str:
    """A day as the pages write it ("Thu 31 May 2035"), by strftime, not by our code."""
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def occurrence_starts(master: Appointment, zone: ZoneInfo) -> list[datetime]:
    rows = Appointment.objects.filter(master=master, is_cancelled=False).order_by("start")
    return [row.start.astimezone(zone).replace(tzinfo=None) for row in rows]


# Monday 5 March 2035, 09:00 Amsterdam; the clocks go forward on Sunday 25 March 2035.
FIRST = datetime(2035, 3, 5, 9, 0)
LAST_DAY = datetime(2035, 5, 31, 23, 59, 59)
WORKDAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR)


def new_appointment(client, agent, subject: str, repeat: str, *, confirmed: bool = False):
    """POST the new appointment page: Monday 5 March 2035 09:00-09:15, until 31 May 2035
    (`confirmed`: ticking "Save it anyway")."""
    times = {"start": "2035-03-05T09:00", "end": "2035-03-05T09:15", "repeat_until": "2035-05-31"}
    fields = {**times, "subject": subject, "agents": [agent.pk], "repeat": repeat}
    return client.post("/calendar/appointments/new/", {**fields, **({"confirm_overlap": "on"} if confirmed else {})})


@pytest.mark.parametrize(
    ("repeat", "expected"),
    [
        (
            "workdays",
            rrule.rrule(rrule.DAILY, byweekday=WORKDAYS, dtstart=FIRST, until=LAST_DAY),
        ),
        ("weekly", rrule.rrule(rrule.WEEKLY, dtstart=FIRST, until=LAST_DAY)),
        ("fortnightly", rrule.rrule(rrule.WEEKLY, interval=2, dtstart=FIRST, until=LAST_DAY)),
        ("monthly", rrule.rrule(rrule.MONTHLY, dtstart=FIRST, until=LAST_DAY)),
    ],
)
def test_a_technician_makes_a_series_on_the_new_appointment_page(page_client, alice, repeat, expected):
    client = page_client(alice.user)
    # Monthly meets Saturday 5 May (asked about first: test_a_series_on_a_saturday_asks_first).
    response = new_appointment(client, alice, "Stand-up", repeat, confirmed=repeat == "monthly")
    assert response.status_code == 302
    master = Appointment.objects.get(subject="Stand-up", master=None)
    assert master.is_recurring_master
    page = client.get(response.url).content.decode()
    # The end in the pages' date format (was ISO 2035-05-31): the day of the last occurrence.
    last = list(expected)[-1]
    assert "1 recurring series created" in page and "<dt>Repeats</dt>" in page
    assert f"09:00–09:15, until {day_text(last)}</dd>" in page.replace(" (this is the whole series", "</dd>", 1)
    # 09:00 on the wall clock before and after the spring change, up to and including 31 May.
    assert occurrence_starts(master, AMS) == list(expected)


def test_a_series_on_a_saturday_asks_first(page_client, alice):
    """Monthly on the 5th from Monday 5 March 2035 meets Saturday 5 May (dateutil): outside Alice's
    working week (Mon-Fri 08:00-17:00), so the page names that day and saves nothing until confirmed."""
    saturday = list(rrule.rrule(rrule.MONTHLY, dtstart=FIRST, until=LAST_DAY))[2]
    assert saturday.weekday() == rrule.SA.weekday
    client = page_client(alice.user)

    asked = new_appointment(client, alice, "Stand-up", "monthly")

    assert asked.status_code == 200
    expected = f"outside Alice&#x27;s working hours {day_text(saturday)} 09:00–09:15"
    assert expected in asked.content.decode()
    assert not Appointment.objects.filter(subject="Stand-up").exists()


def test_a_series_from_the_request_tab_repeats_on_one_clock_for_every_technician(
    page_client, alice, make_agent, ticket
):
    """Alice (Amsterdam) and Frank (New York), one entry each, every two weeks from Monday
    5 March 2035 15:00 Amsterdam (09:00 New York): both series repeat on the series' one clock,
    Alice's (the creating user's, the form's default), so from 11 March (US change) to 25 March
    (EU change) Frank's copy stays at 15:00 Amsterdam, 10:00 New York (trial fault 2)."""
    frank = make_agent("frank", time_zone="America/New_York")
    ticket.assigned_agents.add(frank)
    fields = {
        "subject": "Site round",
        "start": "2035-03-05T15:00",
        "end": "2035-03-05T16:00",
        "agents": [alice.pk, frank.pk],
        "entries": "each",
        "repeat": "fortnightly",
        "repeat_until": "2035-04-30",
    }
    # The request page's appointment form has the prefix "appointment".
    response = page_client(alice.user).post(
        f"/requests/{ticket.pk}/appointments/", {f"appointment-{name}": value for name, value in fields.items()}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    masters = {m.agents.get(): m for m in Appointment.objects.filter(subject="Site round", master=None)}
    assert set(masters) == {alice, frank} and all(m.request_id == ticket.pk for m in masters.values())
    expected = list(
        rrule.rrule(rrule.WEEKLY, interval=2, dtstart=datetime(2035, 3, 5, 15), until=datetime(2035, 4, 30, 23, 59, 59))
    )
    assert occurrence_starts(masters[alice], AMS) == expected
    assert occurrence_starts(masters[frank], AMS) == expected
    # Frank reads his copy on his clock, told which clock it repeats on.
    franks_page = page_client(frank.user).get(f"/calendar/appointments/{masters[frank].pk}/")
    assert "15:00–16:00 on Europe/Amsterdam time, until Mon 30 Apr 2035" in franks_page.content.decode()


def test_repeat_until_without_a_repeat_is_refused_with_a_message(page_client, alice):
    response = new_appointment(page_client(alice.user), alice, "Once", "")
    assert response.status_code == 200
    assert "Choose how the appointment repeats" in response.content.decode()
    assert not Appointment.objects.filter(subject="Once").exists()


def post_series(client, agent, subject: str, rule: str):
    """POST /api/appointments/ of an hour on Tuesday 6 March 2035, 08:00 Amsterdam, with `rule`."""
    body = {"subject": subject, "start": "2035-03-06T08:00:00+01:00", "end": "2035-03-06T09:00:00+01:00"}
    return client.post("/api/appointments/", {**body, "agents": [agent.pk], "recurrence": rule}, format="json")


def test_the_api_makes_a_series_from_an_rrule(api_client, alice):
    response = post_series(api_client(alice.user), alice, "Patch round", "FREQ=WEEKLY;BYDAY=TU;COUNT=4")
    assert response.status_code == 201, response.content
    # The answer is the master: part of a series, though no occurrence of it.
    assert response.json()["is_recurring"] is True and response.json()["master"] is None
    master = Appointment.objects.get(pk=response.json()["id"])
    assert master.is_recurring_master
    assert occurrence_starts(master, AMS) == list(
        rrule.rrulestr("FREQ=WEEKLY;BYDAY=TU;COUNT=4", dtstart=datetime(2035, 3, 6, 8))
    )


def test_the_api_refuses_a_bad_rule_and_a_rule_on_an_existing_appointment(api_client, alice, alices_appointment):
    client = api_client(alice.user)
    bad = post_series(client, alice, "Never", "FREQ=FORTNIGHTLY")
    assert bad.status_code == 400 and "recurrence" in bad.json()
    assert not Appointment.objects.filter(subject="Never").exists()
    later = client.patch(f"/api/appointments/{alices_appointment.pk}/", {"recurrence": "FREQ=DAILY"}, format="json")
    assert later.status_code == 400 and "recurrence" in later.json()
    assert not Appointment.objects.get(pk=alices_appointment.pk).is_recurring_master


def test_cancelling_one_occurrence_on_its_page_says_so_and_keeps_the_series(page_client, alice):
    """Trial of main: "Cancel this occurrence" asked "Delete this appointment?" and answered
    "Appointment deleted.", though only that day goes and the series stays."""
    master = calendar_services.create_recurring_appointment(
        rule="FREQ=WEEKLY;BYDAY=MO;UNTIL=20350531T215959Z",
        agents=[alice],
        subject="Stand-up",
        start=FIRST.replace(tzinfo=AMS),
        end=FIRST.replace(tzinfo=AMS, minute=15),
    )
    second = Appointment.objects.filter(master=master).order_by("start")[1]
    client = page_client(alice.user)
    detail = client.get(f"/calendar/appointments/{second.pk}/").content.decode()
    assert 'data-confirm="Cancel this occurrence? The rest of the series stays."' in detail

    response = client.post(f"/calendar/appointments/{second.pk}/delete/", follow=True)

    assert "The occurrence of Mon 12 Mar 2035 is cancelled; the rest of the series stays." in response.content.decode()
    assert Appointment.objects.get(pk=second.pk).is_cancelled
    assert (
        Appointment.objects.filter(master=master, is_cancelled=False).count()
        == len(list(rrule.rrule(rrule.WEEKLY, dtstart=FIRST, until=LAST_DAY))) - 1
    )


def test_a_series_over_a_busy_day_weeks_later_asks_first_naming_the_day(page_client, api_client, alice):
    """Alice has "Training" on Monday 19 March 2035 08:30-10:00 (the third Monday). A weekly
    09:00-09:15 series from 5 March meets it there, not on its first day: the page names the
    overlap with its day and saves nothing until confirmed. A daily 08:00-09:00 series from
    Tuesday 6 March meets it on its 14th day: the API answers 409 naming it."""
    training_start = datetime(2035, 3, 19, 8, 30, tzinfo=AMS)
    calendar_services.create_appointment(
        subject="Training", start=training_start, end=training_start.replace(hour=10, minute=0), agents=[alice]
    )
    client = page_client(alice.user)

    asked = new_appointment(client, alice, "Stand-up", "weekly")

    assert asked.status_code == 200
    assert "overlaps Alice&#x27;s &#x27;Training&#x27; Mon 19 Mar 2035 08:30–10:00" in asked.content.decode()
    assert not Appointment.objects.filter(subject="Stand-up").exists()
    refused = post_series(api_client(alice.user), alice, "Patch round", "FREQ=DAILY;COUNT=20")
    assert refused.status_code == 409 and [o["subject"] for o in refused.json()["overlaps"]] == ["Training"]
    assert not Appointment.objects.filter(subject="Patch round").exists()

    times = {"start": "2035-03-05T09:00", "end": "2035-03-05T09:15", "repeat_until": "2035-05-31"}
    confirmed = client.post(
        "/calendar/appointments/new/",
        {**times, "subject": "Stand-up", "agents": [alice.pk], "repeat": "weekly", "confirm_overlap": "on"},
    )
    assert confirmed.status_code == 302
    assert Appointment.objects.get(subject="Stand-up", master=None).is_recurring_master


# --- a series' page and edit form (the whole series, or one occurrence) -----------------------


def weekly_standup(agent, *, until: str = "20350531T215959Z") -> Appointment:
    """Mondays 09:00-09:15 Amsterdam from 5 March 2035 until 31 May 2035 (the form's UNTIL)."""
    return calendar_services.create_recurring_appointment(
        rule=f"FREQ=WEEKLY;BYDAY=MO;UNTIL={until}",
        agents=[agent],
        subject="Stand-up",
        start=FIRST.replace(tzinfo=AMS),
        end=FIRST.replace(tzinfo=AMS, minute=15),
    )


def edit_fields(master: Appointment, **changes) -> dict:
    """The edit page's fields as the page shows them for a series' master, with `changes`."""
    fields = {
        "subject": master.subject,
        "start": "2035-03-05T09:00",
        "end": "2035-03-05T09:15",
        "agents": [agent.pk for agent in master.agents.all()],
        "repeat": "weekly",
        "repeat_until": "2035-05-31",
    }
    return {**fields, **changes}


def test_series_page_names_its_days_cancelled_and_moved_on_their_own_in_the_readers_format(page_client, alice, bob):
    """Bob (London) reads Alice's Amsterdam series: its 12 March occurrence moved to 13 March 14:00
    Amsterdam (13:00 on his clock) and 11 days cancelled; the page names 10 of them, 'and 1 more'."""
    master = weekly_standup(alice)
    mondays = list(rrule.rrule(rrule.WEEKLY, dtstart=FIRST, until=LAST_DAY))
    occurrences = list(Appointment.objects.filter(master=master).order_by("original_start"))
    moved = occurrences[1]
    calendar_services.update_appointment(
        moved, start=datetime(2035, 3, 13, 14, tzinfo=AMS), end=datetime(2035, 3, 13, 14, 15, tzinfo=AMS)
    )
    for occurrence in occurrences[2:]:
        calendar_services.cancel_occurrence(occurrence)

    page = page_client(bob.user).get(f"/calendar/appointments/{master.pk}/").content.decode()

    cancelled = [day_text(monday) for monday in mondays[2:]]
    assert len(cancelled) == 11
    assert f'<dd class="series-cancelled">{", ".join(cancelled[:10])} and 1 more</dd>' in page
    # 09:00 Amsterdam is 08:00 in London (both on winter time on 12 March).
    assert f"{day_text(mondays[1])} 08:00 → " in page and "Tue 13 Mar 2035 13:00–13:15</a>" in page
    assert f"09:00–09:15 on Europe/Amsterdam time, until {day_text(mondays[-1])}" in page
    occurrence_page = page_client(bob.user).get(f"/calendar/appointments/{moved.pk}/").content.decode()
    assert f"<dt>Moved on its own</dt><dd>from {day_text(mondays[1])} 08:00</dd>" in occurrence_page
    assert f'href="/calendar/appointments/{master.pk}/">recurring series</a>' in occurrence_page


def test_the_owner_moves_the_end_of_the_whole_series_on_its_edit_page(page_client, alice):
    master = weekly_standup(alice)
    client = page_client(alice.user)
    form = client.get(f"/calendar/appointments/{master.pk}/").content.decode()
    assert 'value="2035-05-31"' in form and '<option value="weekly" selected>' in form

    response = client.post(f"/calendar/appointments/{master.pk}/", edit_fields(master, repeat_until="2035-04-15"))

    assert response.status_code == 302, response.content.decode()[:3000]
    until = datetime(2035, 4, 15, 23, 59, 59)
    assert occurrence_starts(master, AMS) == list(rrule.rrule(rrule.WEEKLY, dtstart=FIRST, until=until))


def test_the_owner_changes_how_the_whole_series_repeats_keeping_a_moved_day_it_still_gives(page_client, alice):
    """Weekly on Monday -> every working day: the Monday moved on its own stays where it was moved."""
    master = weekly_standup(alice)
    moved = Appointment.objects.filter(master=master).order_by("original_start")[2]
    calendar_services.update_appointment(
        moved, start=moved.start + timedelta(hours=3), end=moved.end + timedelta(hours=3)
    )
    client = page_client(alice.user)

    response = client.post(f"/calendar/appointments/{master.pk}/", edit_fields(master, repeat="workdays"))

    assert response.status_code == 302, response.content.decode()[:3000]
    workdays = list(rrule.rrule(rrule.DAILY, byweekday=WORKDAYS, dtstart=FIRST, until=LAST_DAY))
    stored = Appointment.objects.filter(master=master).order_by("original_start")
    assert [o.original_start.astimezone(AMS).replace(tzinfo=None) for o in stored] == workdays
    assert Appointment.objects.get(pk=moved.pk).start == moved.start


def test_a_rule_made_elsewhere_is_offered_as_it_is_and_only_its_end_changes(page_client, alice):
    """A series on the second Tuesday of each month (made over the API or imported) is not one
    of the form's choices: "As now" keeps it, and "Repeat until" ends it."""
    master = calendar_services.create_recurring_appointment(
        rule="FREQ=MONTHLY;BYDAY=2TU",
        agents=[alice],
        subject="Patch Tuesday",
        start=datetime(2035, 3, 13, 9, tzinfo=AMS),
        end=datetime(2035, 3, 13, 10, tzinfo=AMS),
    )
    client = page_client(alice.user)
    form = client.get(f"/calendar/appointments/{master.pk}/").content.decode()
    assert '<option value="keep" selected>As now: Every month on the second Tuesday, 09:00–10:00</option>' in form

    fields = edit_fields(master, start="2035-03-13T09:00", end="2035-03-13T10:00", repeat="keep")
    response = client.post(f"/calendar/appointments/{master.pk}/", {**fields, "repeat_until": "2035-07-01"})

    assert response.status_code == 302, response.content.decode()[:3000]
    expected = rrule.rrule(
        rrule.MONTHLY, byweekday=rrule.TU(2), dtstart=datetime(2035, 3, 13, 9), until=datetime(2035, 7, 1, 23, 59, 59)
    )
    assert occurrence_starts(master, AMS) == list(expected)


def test_one_occurrence_is_edited_on_its_own_without_repeat(page_client, alice):
    master = weekly_standup(alice)
    occurrence = Appointment.objects.filter(master=master).order_by("original_start")[1]

    page = page_client(alice.user).get(f"/calendar/appointments/{occurrence.pk}/").content.decode()

    assert "Edit this occurrence<" in page and 'name="repeat"' not in page


def test_another_technician_cannot_change_the_series_rule_on_its_page(page_client, alice, bob):
    master = weekly_standup(alice)
    before = occurrence_starts(master, AMS)

    page = page_client(bob.user).get(f"/calendar/appointments/{master.pk}/").content.decode()
    response = page_client(bob.user).post(
        f"/calendar/appointments/{master.pk}/", edit_fields(master, repeat="workdays")
    )

    assert 'name="repeat"' not in page
    assert response.status_code == 403
    assert occurrence_starts(master, AMS) == before


def on_call_series(agent, **fields) -> Appointment:
    """An all-day weekly series of four days from Monday 5 March 2035, "On call"."""
    from datetime import date

    return calendar_services.create_recurring_appointment(
        rule="FREQ=WEEKLY;COUNT=4",
        agents=[agent],
        subject="On call",
        start=date(2035, 3, 5),
        end=date(2035, 3, 6),
        all_day=True,
        **fields,
    )


def test_an_all_day_series_page_names_days_not_midnights(page_client, alice):
    """An all-day weekly series whose 12 March is moved to 13 March: days only (RFC 5545 3.6.1:
    the end is the midnight after the last day), never 00:00 or the next day."""
    from datetime import date

    master = on_call_series(alice)
    second = Appointment.objects.filter(master=master).order_by("original_start")[1]
    calendar_services.update_appointment(second, start=date(2035, 3, 13), end=date(2035, 3, 14))

    page = page_client(alice.user).get(f"/calendar/appointments/{master.pk}/").content.decode()

    mondays = list(rrule.rrule(rrule.WEEKLY, count=4, dtstart=FIRST))
    assert f"Every week on Monday, all day, 4 times (the last on {day_text(mondays[-1])})" in page
    assert f'{day_text(mondays[1])} → <a href="/calendar/appointments/{second.pk}/">Tue 13 Mar 2035</a>' in page


def _stand_up(agent) -> Appointment:
    return calendar_services.create_recurring_appointment(
        rule="FREQ=WEEKLY;BYDAY=MO;UNTIL=20350531T215959Z",
        agents=[agent],
        subject="Stand-up",
        start=FIRST.replace(tzinfo=AMS),
        end=FIRST.replace(tzinfo=AMS, minute=15),
    )


def test_cancelling_an_occurrence_goes_back_to_its_series(page_client, coordinator, alice):
    """Trial fault 11: after "Cancel this occurrence" a coordinator landed on "You have no
    calendar of your own"."""
    master = _stand_up(alice)
    second = Appointment.objects.filter(master=master).order_by("start")[1]

    response = page_client(coordinator).post(f"/calendar/appointments/{second.pk}/delete/")

    assert response.status_code == 302
    assert response["Location"] == f"/calendar/appointments/{master.pk}/"


def test_cancelling_an_occurrence_opened_from_the_group_calendar_goes_back_there(page_client, coordinator, alice):
    master = _stand_up(alice)
    second = Appointment.objects.filter(master=master).order_by("start")[1]
    client = page_client(coordinator)
    came_from = "/calendar/group/?layout=rows&days=7"
    detail = html.fromstring(client.get(f"/calendar/appointments/{second.pk}/", {"next": came_from}).content)
    form = detail.xpath(f"//form[@action='/calendar/appointments/{second.pk}/delete/']")[0]
    fields = {field.get("name"): field.get("value") for field in form.xpath(".//input")}
    assert fields["next"] == came_from

    response = client.post(f"/calendar/appointments/{second.pk}/delete/", fields)

    assert response["Location"] == came_from


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/calendar/", "javascript:alert(1)"])
def test_a_delete_never_follows_next_off_the_site(page_client, coordinator, alice, elsewhere):
    master = _stand_up(alice)
    second = Appointment.objects.filter(master=master).order_by("start")[1]
    client = page_client(coordinator)
    detail = client.get(f"/calendar/appointments/{second.pk}/", {"next": elsewhere}).content.decode()
    assert 'name="next"' not in detail

    response = client.post(f"/calendar/appointments/{second.pk}/delete/", {"next": elsewhere})

    assert response["Location"] == f"/calendar/appointments/{master.pk}/"


def test_a_coordinator_deleting_a_single_appointment_lands_on_the_group_calendar(
    page_client, coordinator, alices_appointment
):
    response = page_client(coordinator).post(f"/calendar/appointments/{alices_appointment.pk}/delete/")
    assert response["Location"] == "/calendar/group/"
