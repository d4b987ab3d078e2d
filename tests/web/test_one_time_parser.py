"""One reading of the times people send (calendars.times.parse_moment): the new-appointment link,
the booking forms and the API's appointment times read a time alike and say what is wrong with
one they cannot read. Expected instants come from zoneinfo and datetime, never from our code."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendars.models import Appointment
from calendars.times import parse_moment

AMS = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2035-03-05T09:00", datetime(2035, 3, 5, 8, 0, tzinfo=UTC)),  # CET, UTC+1
        ("2035-03-05T09:00:30.5Z", datetime(2035, 3, 5, 9, 0, 30, 500000, tzinfo=UTC)),
        ("2035-03-05T09:00 05:30", datetime(2035, 3, 5, 3, 30, tzinfo=UTC)),  # a link's "+" read back as a space
        ("2035-03-05", datetime(2035, 3, 4, 23, 0, tzinfo=UTC)),  # a date: its midnight
        # 02:30 on the spring night does not exist: read with the offset before the gap (RFC 5545 3.3.5).
        ("2035-03-25T02:30", datetime(2035, 3, 25, 1, 30, tzinfo=UTC)),
    ],
)
def test_times_are_read_on_the_clock_they_were_written_on(text, instant):
    assert parse_moment(text, AMS) == instant


def test_a_time_with_an_offset_keeps_the_day_its_writer_named():
    moment = parse_moment("2035-03-05T23:30-05:00", AMS)
    assert moment.utcoffset() == timedelta(hours=-5) and moment.date().isoformat() == "2035-03-05"
    assert moment == datetime(2035, 3, 6, 4, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Give a date and time, for example 2035-03-05T09:00."),
        ("next tuesday", "next tuesday is not a date and time as ISO 8601 writes one, for example 2035-03-05T09:00."),
        ("2035-02-30T09:00", "2035-02-30T09:00 is no real date and time: check the day, the hour and the offset."),
        ("1500-01-01T09:00", "Give a date between 1900 and 2199."),
    ],
)
def test_a_time_that_cannot_be_read_says_why(text, says):
    with pytest.raises(ValueError) as refused:
        parse_moment(text, AMS)
    assert str(refused.value) == says


def test_a_booking_time_without_an_offset_is_refused_when_one_is_required():
    with pytest.raises(ValueError, match=r"^Give 2035-03-05T09:00 with its offset from UTC"):
        parse_moment("2035-03-05T09:00", AMS, offset_required=True)


def test_a_link_whose_start_cannot_be_read_opens_the_form_saying_why(page_client, alice):
    page = page_client(alice.user).get("/calendar/appointments/new/", {"start": "2035-02-30T09:00"})

    assert page.status_code == 200
    text = page.content.decode()
    assert "The link&#x27;s start could not be read" in text
    assert "2035-02-30T09:00 is no real date and time" in text


def test_the_api_says_why_it_cannot_read_a_start(api_client, alice):
    body = {"subject": "Visit", "start": "5 March 2035 09:00", "end": "2035-03-05T10:00", "agents": [alice.pk]}

    response = api_client(alice.user).post("/api/appointments/", body, format="json")

    assert response.status_code == 400
    assert response.json()["start"] == [
        "5 March 2035 09:00 is not a date and time as ISO 8601 writes one, for example 2035-03-05T09:00."
    ]
    assert not Appointment.objects.exists()


def test_an_all_day_entry_keeps_the_days_written_with_a_far_offset(api_client, alice):
    """Alice is on Amsterdam's clock; 2035-03-05T00:00+14:00 is 4 March 11:00 for her, but the day
    written is 5 March (RFC 5545 DATE values are the same days everywhere)."""
    body = {
        "subject": "Training",
        "start": "2035-03-05T00:00:00+14:00",
        "end": "2035-03-06T00:00:00+14:00",
        "all_day": True,
        "agents": [alice.pk],
    }

    response = api_client(alice.user).post("/api/appointments/", body, format="json")

    assert response.status_code == 201, response.content
    entry = Appointment.objects.get()
    assert (entry.start_date.isoformat(), entry.end_date.isoformat()) == ("2035-03-05", "2035-03-06")


@pytest.mark.parametrize("text", ["2035-02-30T09:00", "5 March 2035 09:00", "1500-01-01T09:00"])
def test_a_query_moment_is_read_as_a_body_moment_with_the_same_message(api_client, alice, text):
    """Review 18: `?start=` had a parser of its own (other messages, a date read another way); the
    query and the body now read a time alike, and say the same of one they cannot read."""
    client = api_client(alice.user)
    body = {"subject": "Visit", "start": text, "end": "2035-03-05T10:00", "agents": [alice.pk]}

    from_body = client.post("/api/appointments/", body, format="json").json()["start"]
    from_query = client.get("/api/appointments/", {"start": text}).json()["start"]

    assert from_query == from_body
    assert from_query != ["Give start as an ISO 8601 date or date-time."]


def test_a_query_date_alone_is_its_midnight_on_the_readers_clock(api_client, alice):
    client = api_client(alice.user)
    assert client.get("/api/appointments/", {"start": "2035-03-05"}).status_code == 200
    assert client.get("/api/appointments/", {"start": "2035-03-05T00:00 01:00"}).status_code == 200
