"""The faults of the read-only review (/work/notes/report-review.md), each through the public
surface (pages and API). Right values come from the permission table (SPEC), dateutil,
zoneinfo or RFC 5545, never from the code under test."""

import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule
from django.contrib.auth.models import Permission, User

from calendars import services as calendar_services
from calendars.models import Appointment
from tests.web.test_pages_series import on_call_series
from tickets import services as ticket_services
from tickets.models import Action

AMS = ZoneInfo("Europe/Amsterdam")


# --- fault 1: an action's appointment is judged as the action ----------------------------------


def _bobs_logged_work(alice, bob):
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[alice, bob])
    action = ticket_services.log_action(
        ticket,
        agent=bob,
        done_at=datetime(2018, 3, 5, 9, tzinfo=AMS),
        time_taken=timedelta(hours=2),
        note="Bob's work",
        add_to_calendar=True,
    )
    return ticket, action, Appointment.objects.get(action=action)


def test_technician_cannot_rewrite_colleagues_work_log_through_its_appointment(alice, bob, api_client, page_client):
    ticket, action, entry = _bobs_logged_work(alice, bob)
    client = api_client(alice.user)
    # The permission table: a technician edits only her own actions and never reassigns one.
    assert client.patch(
        f"/api/requests/{ticket.pk}/actions/{action.pk}/", {"note": "x"}, format="json"
    ).status_code in (
        403,
        404,
    )
    patched = client.patch(
        f"/api/appointments/{entry.pk}/",
        {"agents": [alice.pk], "start": "2018-03-05T07:00:00+01:00", "end": "2018-03-05T07:15:00+01:00"},
        format="json",
    )
    assert patched.status_code == 403
    assert (
        client.patch(
            f"/api/appointments/{entry.pk}/", {"start": "2018-03-05T07:00:00+01:00"}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(f"/api/appointments/{entry.pk}/reassign/", {"to_agent": alice.pk}, format="json").status_code == 403
    )
    assert client.delete(f"/api/appointments/{entry.pk}/").status_code == 403
    page = page_client(alice.user)
    assert (
        page.post(
            f"/calendar/appointments/{entry.pk}/",
            {"subject": entry.subject, "start": "2018-03-05T07:00", "end": "2018-03-05T07:15", "agents": [alice.pk]},
        ).status_code
        == 403
    )
    assert page.post(f"/calendar/appointments/{entry.pk}/delete/").status_code == 403
    action = Action.objects.get(pk=action.pk)
    assert (action.agent, action.done_at, action.time_taken) == (
        bob,
        datetime(2018, 3, 5, 9, tzinfo=AMS),
        timedelta(hours=2),
    )
    assert Appointment.objects.filter(pk=entry.pk).exists()
    # Every reading of the calendar says the same: not Alice's to edit.
    shown = client.get(f"/api/appointments/{entry.pk}/").json()
    rows = client.get(
        "/api/appointments/calendar/", {"start": "2018-03-04T00:00:00+01:00", "end": "2018-03-07T00:00:00+01:00"}
    ).json()
    row = next(item for item in rows if item["id"] == entry.pk)
    assert (shown["can_edit"], shown["can_reassign"], row["can_edit"], row["can_reassign"]) == (False,) * 4


def test_technician_moves_own_work_log_but_cannot_give_it_away(alice, bob, api_client):
    _ticket, action, entry = _bobs_logged_work(alice, bob)
    client = api_client(bob.user)
    moved = client.patch(
        f"/api/appointments/{entry.pk}/",
        {"start": "2018-03-05T10:00:00+01:00", "end": "2018-03-05T11:30:00+01:00"},
        format="json",
    )
    assert moved.status_code == 200
    action = Action.objects.get(pk=action.pk)
    assert (action.done_at, action.time_taken) == (datetime(2018, 3, 5, 10, tzinfo=AMS), timedelta(minutes=90))
    given = client.patch(f"/api/appointments/{entry.pk}/", {"agents": [alice.pk]}, format="json")
    assert given.status_code == 403
    assert "work" in given.json()["detail"]
    assert Action.objects.get(pk=action.pk).agent == bob


def test_coordinator_still_reassigns_logged_work(alice, bob, coordinator, api_client):
    _ticket, action, entry = _bobs_logged_work(alice, bob)
    r = api_client(coordinator).post(
        f"/api/appointments/{entry.pk}/reassign/", {"to_agent": alice.pk, "from_agent": bob.pk}, format="json"
    )
    assert r.status_code == 200
    assert Action.objects.get(pk=action.pk).agent == alice


# --- fault 2: a planned request is a calendar entry for each of its technicians ---------------


def test_technician_cannot_plan_a_new_request_on_a_colleagues_calendar(alice, bob, api_client, page_client):
    # The table: a technician may not create an appointment for Bob alone (POST /api/appointments/ is 403).
    client = api_client(alice.user)
    planned = {"summary": "For Bob", "assigned_agents": [bob.pk], "planned_start": "2035-03-05T09:00:00+01:00"}
    refused = client.post("/api/requests/", planned, format="json")
    assert refused.status_code == 403
    assert "own calendar" in refused.json()["detail"]
    page = page_client(alice.user).post(
        "/requests/new/",
        {"summary": "For Bob", "status": "new", "assigned_agents": [bob.pk], "planned_start": "2035-03-05T09:00"},
    )
    assert page.status_code == 200
    assert "only on your own calendar" in page.content.decode()
    assert not Appointment.objects.filter(agents=bob).exists()
    # Unplanned, or planned with herself among the technicians, stays allowed.
    assert (
        client.post("/api/requests/", {"summary": "Later", "assigned_agents": [bob.pk]}, format="json").status_code
        == 201
    )
    both = dict(planned, assigned_agents=[alice.pk, bob.pk])
    assert client.post("/api/requests/", both, format="json").status_code == 201
    assert Appointment.objects.filter(agents=bob, source=Appointment.Source.PLANNED).count() == 1


# --- fault 3: the series edit page keeps the series as it is when saved unchanged --------------


def _series_dates(master_pk: int) -> list:
    starts = Appointment.objects.filter(master_id=master_pk, is_cancelled=False).values_list("start", flat=True)
    return sorted(start.astimezone(AMS).date() for start in starts)


def test_series_page_saved_unchanged_keeps_its_last_occurrence(page_client, alice):
    # Mondays 09:00 Amsterdam, UNTIL midnight UTC of Monday 28 May 2035 (the API's own `...T000000Z`).
    rule = "FREQ=WEEKLY;BYDAY=MO;UNTIL=20350528T000000Z"
    first = datetime(2035, 3, 5, 9, tzinfo=AMS)
    master = calendar_services.create_recurring_appointment(
        rule=rule, agents=[alice], subject="Stand-up", start=first, end=first + timedelta(minutes=15)
    )
    expected = [day.date() for day in rrule.rrulestr(rule, dtstart=first)]
    assert expected[-1] == date(2035, 5, 21)  # dateutil: 28 May 09:00 is after UNTIL
    client = page_client(alice.user)
    page = client.get(f"/calendar/appointments/{master.pk}/").content.decode()
    # The last whole day UNTIL covers on the series' clock: 28 May 00:00 UTC is 02:00 there (zoneinfo).
    assert datetime(2035, 5, 28, tzinfo=ZoneInfo("UTC")).astimezone(AMS).hour == 2
    assert 'name="repeat_until" value="2035-05-27"' in page
    shown = re.search(r'<option value="([a-z]+)" selected', page).group(1)
    saved = client.post(
        f"/calendar/appointments/{master.pk}/",
        {
            "subject": "Stand-up",
            "start": "2035-03-05T09:00",
            "end": "2035-03-05T09:15",
            "agents": [alice.pk],
            "repeat": shown,
            "repeat_until": "2035-05-27",
        },
    )
    assert saved.status_code == 302
    assert _series_dates(master.pk) == expected
    assert "UNTIL=20350528T000000Z" in api_rule(page_client, alice, master.pk)


def api_rule(page_client, user_agent, pk: int) -> str:
    return page_client(user_agent.user).get(f"/api/appointments/{pk}/").json()["recurrence"]


EXRULE_SERIES = "RRULE:FREQ=WEEKLY;BYDAY=MO\nEXRULE:FREQ=MONTHLY;BYDAY=1MO"


def _exrule_expected(first: datetime, until: datetime) -> list:
    # dateutil's rruleset: every Monday but the first Monday of each month.
    rules = rrule.rruleset()
    rules.rrule(rrule.rrule(rrule.WEEKLY, byweekday=rrule.MO, dtstart=first, until=until))
    rules.exrule(rrule.rrule(rrule.MONTHLY, byweekday=rrule.MO(1), dtstart=first))
    return [day.date() for day in rules]


def test_series_page_changing_the_end_keeps_the_exrule(page_client, alice):
    first = datetime(2035, 3, 5, 9, tzinfo=AMS)
    master = calendar_services.create_recurring_appointment(
        rule=EXRULE_SERIES, agents=[alice], subject="Stand-up", start=first, end=first + timedelta(minutes=15)
    )
    form = {"subject": "Stand-up", "start": "2035-03-05T09:00", "end": "2035-03-05T09:15", "agents": [alice.pk]}
    page = page_client(alice.user).get(f"/calendar/appointments/{master.pk}/").content.decode()
    shown = re.search(r'<option value="([a-z]+)" selected', page).group(1)
    saved = page_client(alice.user).post(
        f"/calendar/appointments/{master.pk}/", {**form, "repeat": shown, "repeat_until": "2035-06-30"}
    )
    assert saved.status_code == 302
    assert _series_dates(master.pk) == _exrule_expected(first, datetime(2035, 6, 30, 23, 59, 59, tzinfo=AMS))
    assert "EXRULE:FREQ=MONTHLY;BYDAY=1MO" in api_rule(page_client, alice, master.pk)


def test_api_series_rule_read_and_sent_back_keeps_the_exrule(page_client, api_client, alice):
    first = datetime(2035, 3, 5, 9, tzinfo=AMS)
    master = calendar_services.create_recurring_appointment(
        rule=EXRULE_SERIES, agents=[alice], subject="Stand-up", start=first, end=first + timedelta(minutes=15)
    )
    read = api_client(alice.user).get(f"/api/appointments/{master.pk}/").json()["recurrence"]
    assert "EXRULE:FREQ=MONTHLY;BYDAY=1MO" in read
    ended = read.replace("BYDAY=MO", "BYDAY=MO;UNTIL=20350630T215959Z", 1)
    r = api_client(alice.user).patch(f"/api/appointments/{master.pk}/", {"recurrence": ended}, format="json")
    assert r.status_code == 200, r.content
    assert _series_dates(master.pk) == _exrule_expected(first, datetime(2035, 6, 30, 23, 59, 59, tzinfo=AMS))


# --- fault 4: an all-day entry made over the API keeps the days written ------------------------


def test_api_all_day_from_another_clock_keeps_the_days_written(page_client, alice, make_agent):
    nyc = make_agent("nycc", time_zone="America/New_York")
    nyc.user.user_permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
    client = page_client(User.objects.get(pk=nyc.user.pk))  # a session: the New York clock is the current zone
    # RFC 5545 3.6.1: DTSTART 5 March, DTEND (exclusive) 6 March is one day, the same in every zone.
    for start, end in (
        ("2035-03-05T00:00:00", "2035-03-06T00:00:00"),
        ("2035-03-05T00:00:00-05:00", "2035-03-06T00:00:00-05:00"),
        ("2035-03-05T00:00:00+01:00", "2035-03-05T12:00:00+01:00"),
    ):
        made = client.post(
            "/api/appointments/",
            json.dumps(
                {"subject": "Day off", "all_day": True, "busy": False, "start": start, "end": end, "agents": [alice.pk]}
            ),
            content_type="application/json",
        )
        assert made.status_code == 201, made.content
        assert (made.json()["start_date"], made.json()["end_date"]) == ("2035-03-05", "2035-03-06"), (start, end)
    moved = client.patch(
        f"/api/appointments/{made.json()['id']}/",
        json.dumps({"start": "2035-03-09T00:00:00", "end": "2035-03-11T00:00:00"}),
        content_type="application/json",
    )
    assert (moved.json()["start_date"], moved.json()["end_date"]) == ("2035-03-09", "2035-03-11")
    # Read back, `start` is the first day's midnight on the reader's (New York) clock, so its date is
    # the entry's day (RFC 5545 3.3.4) and sending it back keeps the days; Alice's midnight
    # (18:00 the day before here) read as 8 March and moved the entry when sent back.
    assert moved.json()["start"] == "2035-03-09T00:00:00-05:00"


# --- fault 5: all-day days are named the same for every reader ---------------------------------


def test_all_day_series_and_request_page_name_the_same_days_for_a_reader_west(page_client, alice, make_agent):
    nyc = make_agent("nyc", time_zone="America/New_York")
    ticket = ticket_services.create_request(summary="On call", assigned_agents=[alice])
    master = on_call_series(alice, request=ticket)
    days = list(rrule.rrule(rrule.WEEKLY, count=4, dtstart=datetime(2035, 3, 5)))
    assert days[-1].date() == date(2035, 3, 26)  # dateutil: the last is Monday 26 March
    second = Appointment.objects.filter(master=master).order_by("original_start")[1]
    calendar_services.update_appointment(second, start=date(2035, 3, 13), end=date(2035, 3, 14))
    page = page_client(nyc.user).get(f"/calendar/appointments/{master.pk}/").content.decode()
    assert "the last on Mon 26 Mar 2035" in page
    assert "Mon 12 Mar 2035" in page and "Tue 13 Mar 2035" in page and "Sun 11 Mar 2035" not in page
    request_page = page_client(nyc.user).get(f"/requests/{ticket.pk}/?tab=appointments").content.decode()
    assert "Tue 13 Mar 2035, all day" in request_page and "Mon 12 Mar 2035 18:00" not in request_page


# --- fault 6: an impossible date or offset on the booking pages is a message, not a 500 --------


def test_booking_pages_refuse_impossible_dates_and_offsets_with_a_message(coordinator, alice, page_client):
    ticket = ticket_services.create_request(summary="x", assigned_agents=[alice], estimate=timedelta(hours=12))
    client = page_client(coordinator)
    for start in ("2035-02-30T10:00:00+01:00", "2035-03-05T10:00:00+25:00"):  # no 30 February; offsets end at 23:59
        slot = client.post(f"/requests/{ticket.pk}/book-slot/", {"start": start, "agent": [alice.pk]}, follow=True)
        assert slot.status_code == 200
        assert "That slot could not be read" in slot.content.decode()
    split = client.post(
        f"/requests/{ticket.pk}/book-split/",
        {
            "part_start": ["2035-03-05T08:00+25:00", "2035-03-06T08:00+01:00"],
            "part_end": ["2035-03-05T17:00+01:00", "2035-03-06T11:00+01:00"],
            "agent": [alice.pk],
        },
        follow=True,
    )
    assert split.status_code == 200 and "Those parts could not be read" in split.content.decode()
    assert not Appointment.objects.filter(request=ticket).exists()


# --- fault 7: book-split takes parts as find-slot proposes them, and a bounded number -----------


def test_api_book_split_refuses_short_parts_and_too_many(coordinator, alice, api_client):
    ticket = ticket_services.create_request(summary="x", assigned_agents=[alice], estimate=timedelta(hours=1))
    start = datetime(2035, 3, 5, 10, 0, tzinfo=AMS)
    minutes = [
        {
            "start": (start + timedelta(minutes=10 * i)).isoformat(),
            "end": (start + timedelta(minutes=10 * i + 10)).isoformat(),
        }
        for i in range(6)
    ]
    client = api_client(coordinator)
    short = client.post(
        f"/api/requests/{ticket.pk}/book-split/", {"parts": minutes, "agents": [alice.pk]}, format="json"
    )
    assert short.status_code == 400
    assert "at least 60 minutes" in str(short.json())
    ticket.estimate = timedelta(hours=101)
    ticket.save(update_fields=["estimate"])
    hours = [
        {"start": (start + timedelta(days=i)).isoformat(), "end": (start + timedelta(days=i, hours=1)).isoformat()}
        for i in range(101)
    ]
    many = client.post(f"/api/requests/{ticket.pk}/book-split/", {"parts": hours, "agents": [alice.pk]}, format="json")
    assert many.status_code == 400
    assert "at most 100 parts" in str(many.json())
    assert not Appointment.objects.filter(request=ticket).exists()


# --- fault 10: an appointment's request cannot change, and saying so is not silent -----------


def test_patch_of_an_appointments_request_is_refused_not_ignored(coordinator, alice, api_client):
    one = ticket_services.create_request(summary="one", assigned_agents=[alice])
    two = ticket_services.create_request(summary="two", assigned_agents=[alice])
    entry = calendar_services.create_appointment(
        subject="s",
        start=datetime(2035, 3, 5, 9, tzinfo=AMS),
        end=datetime(2035, 3, 5, 10, tzinfo=AMS),
        agents=[alice],
        request=one,
    )
    client = api_client(coordinator)
    refused = client.patch(f"/api/appointments/{entry.pk}/", {"request": two.pk}, format="json")
    assert refused.status_code == 400
    assert "stays with its request" in refused.json()["request"][0]
    assert Appointment.objects.get(pk=entry.pk).request_id == one.pk
    # Sending back the request it has (a PUT of what was read) still works.
    same = client.patch(f"/api/appointments/{entry.pk}/", {"request": one.pk, "subject": "t"}, format="json")
    assert same.status_code == 200 and same.json()["subject"] == "t"


# --- fault 9: "the next whole hour" is whole on the reader's wall clock -------------------------


def test_slots_start_on_whole_and_half_hours_of_a_kathmandu_readers_clock(make_agent, page_client):
    ktm = ZoneInfo("Asia/Kathmandu")
    assert datetime(2035, 3, 6, 10, 0, tzinfo=ktm).utcoffset() == timedelta(hours=5, minutes=45)  # zoneinfo
    ravi = make_agent("ravi", time_zone="Asia/Kathmandu")
    ticket = ticket_services.create_request(summary="x", assigned_agents=[ravi], estimate=timedelta(hours=1))
    client = page_client(ravi.user)  # a session: Ravi's clock is the current zone
    found = client.get(f"/api/requests/{ticket.pk}/find-slot/")
    free = client.get("/api/availability/", {"agent": ravi.pk})
    for answer in (found, free):
        assert answer.status_code == 200, answer.content
        starts = [datetime.fromisoformat(slot["start"]).astimezone(ktm) for slot in answer.json()["slots"]]
        assert starts
        # Steps of 30 minutes from a whole hour there: never :15 or :45 (a whole UTC hour is :45 there).
        assert {start.minute for start in starts} <= {0, 30}, [f"{s:%H:%M}" for s in starts]


# --- fault 11: an unknown team or technician is a 400 naming it, not an empty answer ----------


def test_unknown_team_or_technician_is_named_in_a_400(api_client, coordinator, alice):
    client = api_client(coordinator)
    week = {"start": "2035-03-05T00:00:00+01:00", "end": "2035-03-12T00:00:00+01:00"}
    for url in ("/api/availability/", "/api/working-hours/", "/api/appointments/calendar/", "/api/appointments/"):
        team = client.get(url, {**week, "team": 999999})
        assert team.status_code == 400, (url, team.content)
        assert "No team with id 999999" in str(team.json()), url
        agent = client.get(url, {**week, "agent": [alice.pk, 999998]})
        assert agent.status_code == 400, (url, agent.content)
        assert "No technician with id 999998" in str(agent.json()), url
        assert client.get(url, {**week, "agent": alice.pk}).status_code == 200, url


# --- fault 12: working hours are read by those who may look for free slots; a team is bounded --


def test_working_hours_closed_to_viewers_like_availability(page_client, reader, alice):
    for url in ("/api/availability/", "/api/working-hours/"):
        refused = page_client(reader).get(url)
        assert refused.status_code == 403, url
        assert "Only technicians and coordinators" in refused.json()["detail"]
    assert page_client(alice.user).get("/api/working-hours/").status_code == 200


def test_a_team_larger_than_the_technician_limit_is_refused(api_client, coordinator, settings):
    from agents.models import Agent, Team
    from calendars.availability import MAX_TECHNICIANS

    users = User.objects.bulk_create([User(username=f"big-{i}") for i in range(MAX_TECHNICIANS + 1)])
    agents = Agent.objects.bulk_create([Agent(user=user, feed_token=f"big-{user.pk}") for user in users])
    team = Team.objects.create(name="Everyone")
    team.members.set(agents)
    for url in ("/api/availability/", "/api/working-hours/"):
        refused = api_client(coordinator).get(url, {"team": team.pk})
        assert refused.status_code == 400, url
        assert f"more than {MAX_TECHNICIANS} technicians" in str(refused.json())
