"""A 409's `outside_working_hours` gives each part outside a technician's working hours (`spans`),
not only the first part's start and the last part's end (trial: a split booked from Monday evening
to Tuesday morning read as outside from Monday 17:00 to Tuesday 08:00, the whole night and day
between them, where only an hour of each day was).

Alice keeps the default working week, Monday to Friday 08:00-17:00 on Amsterdam's clock; the
expected parts are worked out here from those hours with plain datetime arithmetic."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from tickets import services

AMS = ZoneInfo("Europe/Amsterdam")
MONDAY = datetime(2035, 3, 5).date()
TUESDAY = MONDAY + timedelta(days=1)


def at(day, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=AMS)


def test_a_split_over_two_days_names_each_part_outside_working_hours(api_client, coordinator, alice):
    job = services.create_request(summary="Server move", assigned_agents=[alice], estimate=timedelta(hours=4))
    parts = [(at(MONDAY, 16), at(MONDAY, 18)), (at(TUESDAY, 7), at(TUESDAY, 9))]
    body = {"parts": [{"start": a.isoformat(), "end": b.isoformat()} for a, b in parts], "agents": [alice.pk]}

    response = api_client(coordinator).post(f"/api/requests/{job.pk}/book-split/", body, format="json")

    assert response.status_code == 409, response.content
    [outside] = response.json()["outside_working_hours"]
    # Working day 08:00-17:00: Monday's part leaves it 17:00-18:00, Tuesday's 07:00-08:00.
    expected = [(at(MONDAY, 17), at(MONDAY, 18)), (at(TUESDAY, 7), at(TUESDAY, 8))]
    spans = [(datetime.fromisoformat(span["start"]), datetime.fromisoformat(span["end"])) for span in outside["spans"]]
    assert spans == expected
    assert sum((end - start for start, end in spans), timedelta()) == timedelta(hours=2)
    # The hull stays for clients that read it.
    assert (datetime.fromisoformat(outside["start"]), datetime.fromisoformat(outside["end"])) == (
        expected[0][0],
        expected[-1][1],
    )


def test_a_series_names_each_occurrence_outside_working_hours(api_client, alice):
    """A daily series 16:00-18:00 on Monday and Tuesday: one hour outside on each day."""
    body = {
        "subject": "Late check",
        "start": at(MONDAY, 16).isoformat(),
        "end": at(MONDAY, 18).isoformat(),
        "agents": [alice.pk],
        "recurrence": "FREQ=DAILY;COUNT=2",
    }

    response = api_client(alice.user).post("/api/appointments/", body, format="json")

    assert response.status_code == 409, response.content
    [outside] = response.json()["outside_working_hours"]
    spans = [(datetime.fromisoformat(span["start"]), datetime.fromisoformat(span["end"])) for span in outside["spans"]]
    assert spans == [(at(MONDAY, 17), at(MONDAY, 18)), (at(TUESDAY, 17), at(TUESDAY, 18))]
