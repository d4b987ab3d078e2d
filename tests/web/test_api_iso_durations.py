"""Query parameters that count time (`duration`, `step`, `buffer`, `notice`) take bare minutes,
as always, or an ISO 8601 duration (ISO 8601-1:2019 5.5.2, "PT1H30M"); they took bare minutes
only, and "PT2H" answered "Give a whole number of minutes". What each ISO text is in minutes is
isodate's reading (an independent parser), never ours."""

from datetime import UTC, datetime, timedelta

import isodate
import pytest

from calendars import services

MESSAGE = "Give a whole number of minutes from 5 to 7200, or an ISO 8601 duration such as PT1H30M."


def _slots(client, **times) -> list[str]:
    query = {"start": "2035-03-05T00:00:00Z", "end": "2035-03-06T00:00:00Z", **times}
    response = client.get("/api/availability/", query)
    assert response.status_code == 200, response.content
    return [slot["start"] for slot in response.json()["slots"]]


def test_availability_reads_iso_8601_durations_as_their_minutes(api_client, coordinator, alice, bob):
    """Bob busy 10:00-11:00 UTC on Monday 5 March 2035; two hours, a step of one hour, written
    both ways, give the same starts."""
    services.create_appointment(
        subject="Job",
        start=datetime(2035, 3, 5, 10, tzinfo=UTC),
        end=datetime(2035, 3, 5, 11, tzinfo=UTC),
        agents=[bob],
    )
    client = api_client(coordinator)
    agents = {"agent": [alice.pk, bob.pk]}
    duration, step, notice = "PT1H60M", "PT1H", "P0D"
    assert isodate.parse_duration(duration) == timedelta(minutes=120)
    assert isodate.parse_duration(step) == timedelta(minutes=60)
    bare = _slots(client, **agents, duration=120, step=60, notice=0)
    assert bare and _slots(client, **agents, duration=duration, step=step, notice=notice) == bare


@pytest.mark.parametrize(
    "written", ["PT1H30", "P1W", "PT90S", "P1M", "1.5", "90m", "P", "PT", "PT0M", "P6D", "²", "٣٠"]
)
def test_a_duration_that_is_not_whole_minutes_in_range_is_refused_clearly(api_client, coordinator, alice, written):
    """Refused, each with the one message: no unit designator after 30 (not ISO 8601), weeks and
    months (not a fixed number of minutes here), part of a minute, a decimal, a made-up unit,
    no number at all, zero and six days (out of 5-7200), and digits other than ASCII ("²" was a 500,
    int() refuses it; "٣٠" was read as 30)."""
    response = api_client(coordinator).get("/api/availability/", {"agent": [alice.pk], "duration": written})
    assert response.status_code == 400
    assert response.json() == {"duration": [MESSAGE]}


def test_the_schema_shows_both_forms_and_the_message(api_client, coordinator):
    schema = api_client(coordinator).get("/api/schema/", {"format": "json"}).json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/availability/"]["get"]["parameters"]}
    duration = parameters["duration"]
    assert MESSAGE in duration["description"]
    assert {"type": "string", "format": "duration", "pattern": "^P", "example": "PT1H30M"} in duration["schema"][
        "oneOf"
    ]
