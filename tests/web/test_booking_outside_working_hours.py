"""Booking outside a technician's working hours or days is named like an overlap and asked about
before saving (SPEC S6.3, S2.4; trial: `book-slot` booked a 12-hour job on a Sunday without a word).
The API answers 409 naming the hours left unless `confirm_overlap` is sent; the page asks first;
"Find a slot" proposes nothing outside working hours.

Alice keeps the default working week, Monday to Friday 08:00-17:00 on Amsterdam's clock. Days and
times expected are worked out with dateutil's rrule and plain datetime arithmetic, never with the
availability code.
"""

import html
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import DAILY, FR, MO, SU, TH, TU, WE, WEEKLY, rrule

from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import selectors, services
from tickets.models import Request

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2035, 3, 2, 7, 10, tzinfo=AMS)  # a Friday
SUNDAY = rrule(WEEKLY, byweekday=SU, dtstart=NOW.replace(tzinfo=None))[0].date()
MONDAY = SUNDAY + timedelta(days=1)
WORKING = "Mon–Fri 08:00–17:00 Europe/Amsterdam"


def _job(alice, hours: int = 12) -> Request:
    return services.create_request(summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=hours))


def _book_split(client, job: Request, parts: list, agent):
    body = {"parts": [{"start": a.isoformat(), "end": b.isoformat()} for a, b in parts], "agents": [agent.pk]}
    return client.post(f"/api/requests/{job.pk}/book-split/", body, format="json")


def test_api_book_slot_on_a_sunday_answers_409_naming_the_hours_left_and_saves_nothing(api_client, coordinator, alice):
    job = _job(alice)
    start = datetime.combine(SUNDAY, time(8), tzinfo=AMS)

    response = api_client(coordinator).post(
        f"/api/requests/{job.pk}/book-slot/", {"start": start.isoformat(), "agents": [alice.pk]}, format="json"
    )

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["overlaps"] == []
    [outside] = body["outside_working_hours"]
    assert outside["agent"] == alice.pk and outside["working_hours"] == WORKING
    assert outside["message"] == f"outside Alice's working hours Sun 4 Mar 2035 08:00–20:00 (works {WORKING})"
    assert datetime.fromisoformat(outside["start"]) == start
    assert datetime.fromisoformat(outside["end"]) == start + timedelta(hours=12)
    assert body["detail"] == f"Outside working hours: {outside['message']}. Confirm to save anyway."
    assert Request.objects.get(pk=job.pk).planned_start is None
    assert not Appointment.objects.filter(request=job).exists()


def test_api_book_slot_confirmed_outside_working_hours_is_saved(api_client, coordinator, alice):
    job = _job(alice)
    start = datetime.combine(SUNDAY, time(8), tzinfo=AMS)

    response = api_client(coordinator).post(
        f"/api/requests/{job.pk}/book-slot/",
        {"start": start.isoformat(), "agents": [alice.pk], "confirm_overlap": True},
        format="json",
    )

    assert response.status_code == 200, response.content
    planned = Appointment.objects.get(request=job, source=Appointment.Source.PLANNED)
    assert (planned.start, planned.end) == (start, start + timedelta(hours=12))


def test_api_book_slot_past_the_end_of_a_working_day_names_the_hours_after_it(api_client, coordinator, alice):
    """A working Monday 08:00 for 12 hours: 17:00-20:00 is outside."""
    job = _job(alice)
    start = datetime.combine(MONDAY, time(8), tzinfo=AMS)

    response = api_client(coordinator).post(
        f"/api/requests/{job.pk}/book-slot/", {"start": start.isoformat(), "agents": [alice.pk]}, format="json"
    )

    assert response.status_code == 409
    [outside] = response.json()["outside_working_hours"]
    assert outside["message"] == f"outside Alice's working hours Mon 5 Mar 2035 17:00–20:00 (works {WORKING})"


def test_api_book_slot_inside_working_hours_asks_nothing(api_client, coordinator, alice):
    job = _job(alice, hours=2)
    start = datetime.combine(MONDAY, time(9), tzinfo=AMS)

    response = api_client(coordinator).post(
        f"/api/requests/{job.pk}/book-slot/", {"start": start.isoformat(), "agents": [alice.pk]}, format="json"
    )

    assert response.status_code == 200, response.content


def test_api_book_split_with_a_part_on_a_sunday_answers_409(api_client, coordinator, alice):
    job = _job(alice)
    parts = [
        (datetime.combine(SUNDAY, time(8), tzinfo=AMS), datetime.combine(SUNDAY, time(14), tzinfo=AMS)),
        (datetime.combine(MONDAY, time(8), tzinfo=AMS), datetime.combine(MONDAY, time(14), tzinfo=AMS)),
    ]

    response = _book_split(api_client(coordinator), job, parts, alice)

    assert response.status_code == 409, response.content
    [outside] = response.json()["outside_working_hours"]
    assert outside["message"] == f"outside Alice's working hours Sun 4 Mar 2035 08:00–14:00 (works {WORKING})"
    assert not Appointment.objects.filter(request=job).exists()


def test_the_page_asks_before_booking_outside_working_hours_and_books_once_confirmed(page_client, coordinator, alice):
    job = _job(alice)
    start = datetime.combine(SUNDAY, time(8), tzinfo=AMS)
    client = page_client(coordinator)

    asked = client.post(f"/requests/{job.pk}/book-slot/", {"start": start.isoformat(), "agent": [alice.pk]})

    text = asked.content.decode()
    assert asked.status_code == 200 and "outside working hours?" in text
    assert html.escape(f"outside Alice's working hours Sun 4 Mar 2035 08:00–20:00 (works {WORKING})") in text
    assert 'name="confirm_overlap" value="1"' in text and "Book anyway" in text
    assert Request.objects.get(pk=job.pk).planned_start is None

    booked = client.post(
        f"/requests/{job.pk}/book-slot/", {"start": start.isoformat(), "agent": [alice.pk], "confirm_overlap": "1"}
    )
    assert booked.status_code == 302
    assert Request.objects.get(pk=job.pk).planned_start == start


def _working_hours(begin: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Alice's working hours from begin's day to end as dateutil reads her week: each day of
    RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR, 08:00 to 17:00 on Amsterdam's clock."""
    first = begin.astimezone(AMS).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    days = rrule(DAILY, byweekday=(MO, TU, WE, TH, FR), dtstart=first, until=end.astimezone(AMS).replace(tzinfo=None))
    return [
        (datetime.combine(d.date(), time(8), tzinfo=AMS), datetime.combine(d.date(), time(17), tzinfo=AMS))
        for d in days
    ]


def _inside_the_working_week(begin: datetime, end: datetime) -> bool:
    """[begin, end) lies within one span of Alice's working hours (`_working_hours`)."""
    return any(opens <= begin and end <= closes for opens, closes in _working_hours(begin, end))


def test_find_a_slot_proposes_nothing_outside_working_hours(alice):
    """Friday 16:30: the next hour-long slots are on Monday from 08:00, not Friday 16:30 or the weekend;
    a 12-hour job is proposed in parts, each inside a working day."""
    now = datetime(2035, 3, 2, 16, 20, tzinfo=AMS)
    short = selectors.slot_proposals(_job(alice, hours=1), now=now)
    assert short.slots and all(_inside_the_working_week(s.start, s.end) for s in short.slots)
    assert short.slots[0].start == datetime.combine(MONDAY, time(8), tzinfo=AMS).astimezone(UTC)

    long = selectors.slot_proposals(_job(alice), now=now)
    assert long.slots == [] and long.split is not None
    assert all(_inside_the_working_week(begin, end) for begin, end in long.split.parts)


# --- the one check: every write path asks, not only "Find a slot" ---------------------------


def test_api_appointment_on_a_sunday_answers_409_naming_the_hours_and_saves_nothing(api_client, alice):
    """A plain appointment made through /api/appointments/ is asked about like a booking."""
    start = datetime.combine(SUNDAY, time(10), tzinfo=AMS)
    body = {"subject": "Inventory", "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}

    response = api_client(alice.user).post("/api/appointments/", {**body, "agents": [alice.pk]}, format="json")

    assert response.status_code == 409, response.content
    [outside] = response.json()["outside_working_hours"]
    assert outside["message"] == f"outside Alice's working hours Sun 4 Mar 2035 10:00–12:00 (works {WORKING})"
    assert response.json()["overlaps"] == []
    assert not Appointment.objects.exists()


def test_api_appointment_on_a_sunday_is_saved_once_confirmed(api_client, alice):
    start = datetime.combine(SUNDAY, time(10), tzinfo=AMS)
    body = {"subject": "Inventory", "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}

    response = api_client(alice.user).post(
        "/api/appointments/", {**body, "agents": [alice.pk], "confirm_overlap": True}, format="json"
    )

    assert response.status_code == 201, response.content
    assert Appointment.objects.get().start == start


def test_api_moving_an_appointment_to_the_evening_answers_409(api_client, alice):
    """A move (a drag on the calendar sends this PATCH) past 17:00 is asked about too."""
    monday_nine = datetime.combine(MONDAY, time(9), tzinfo=AMS)
    entry = calendar_services.create_appointment(
        subject="Visit", start=monday_nine, end=monday_nine + timedelta(hours=1), agents=[alice]
    )
    evening = datetime.combine(MONDAY, time(18), tzinfo=AMS)

    response = api_client(alice.user).patch(
        f"/api/appointments/{entry.pk}/",
        {"start": evening.isoformat(), "end": (evening + timedelta(hours=1)).isoformat()},
        format="json",
    )

    assert response.status_code == 409, response.content
    [outside] = response.json()["outside_working_hours"]
    assert outside["message"] == f"outside Alice's working hours Mon 5 Mar 2035 18:00–19:00 (works {WORKING})"
    assert Appointment.objects.get(pk=entry.pk).start == monday_nine


def test_planning_a_request_on_a_sunday_asks_first(alice):
    """create_request with a planned date (the request pages and API) goes through the same check."""
    start = datetime.combine(SUNDAY, time(9), tzinfo=AMS)

    with pytest.raises(calendar_services.OverlapWarning) as raised:
        services.create_request(
            summary="Sunday job",
            assigned_agents=[alice],
            planned_start=start,
            estimate=timedelta(hours=1),
            check_overlap=True,
        )

    [outside] = raised.value.outside
    assert outside.spans == ((start, start + timedelta(hours=1)),)
    assert not Request.objects.exists()


def test_an_all_day_entry_on_a_working_day_asks_nothing(api_client, alice):
    """An all-day entry holds whole days, not working hours: only overlaps are asked about."""
    response = api_client(alice.user).post(
        "/api/appointments/",
        {
            "subject": "Training",
            "start": MONDAY.isoformat(),
            "end": (MONDAY + timedelta(days=1)).isoformat(),
            "all_day": True,
            "agents": [alice.pk],
        },
        format="json",
    )

    assert response.status_code == 201, response.content


def test_api_book_split_names_the_hours_every_part_leaves(api_client, coordinator, alice):
    """Parts on Monday (inside), Saturday and Sunday: one question names both weekend days, as a
    split is confirmed once (each part is checked as it is written; the first stops the booking)."""
    job = _job(alice, hours=18)
    saturday = MONDAY + timedelta(days=5)
    days = [MONDAY, saturday, saturday + timedelta(days=1)]
    parts = [(datetime.combine(day, time(8), tzinfo=AMS), datetime.combine(day, time(14), tzinfo=AMS)) for day in days]

    response = _book_split(api_client(coordinator), job, parts, alice)

    assert response.status_code == 409, response.content
    [outside] = response.json()["outside_working_hours"]
    assert outside["message"] == (
        f"outside Alice's working hours Sat 10 Mar 2035 08:00–14:00, Sun 11 Mar 2035 08:00–14:00 (works {WORKING})"
    )
    assert not Appointment.objects.filter(request=job).exists()


def test_outside_hours_message_names_the_technicians_own_time_too(api_client, coordinator, make_agent):
    """Trial fault 13: "outside Frank Miller's working hours Tue 15 Dec 2026 10:00-11:00 (works
    Mon-Fri 08:00-17:00 America/New_York)" (en dashes) left the dispatcher to work out it is 04:00 for Frank."""
    new_york = ZoneInfo("America/New_York")
    frank = make_agent("frank", time_zone="America/New_York")
    job = _job(frank, hours=1)
    tuesday = MONDAY + timedelta(days=1)
    start = datetime.combine(tuesday, time(10), tzinfo=AMS)
    his = start.astimezone(new_york)  # plain zoneinfo arithmetic: 04:00 on 6 Mar 2035

    response = api_client(coordinator).post(
        f"/api/requests/{job.pk}/book-slot/", {"start": start.isoformat(), "agents": [frank.pk]}, format="json"
    )

    assert response.status_code == 409, response.content
    [outside] = response.json()["outside_working_hours"]
    theirs = f"{his:%H:%M}–{his + timedelta(hours=1):%H:%M}"
    assert theirs == "04:00–05:00"
    assert outside["message"] == (
        f"outside Frank's working hours Tue 6 Mar 2035 10:00–11:00 "
        f"({theirs} Frank's time; works Mon–Fri 08:00–17:00 America/New_York)"
    )
