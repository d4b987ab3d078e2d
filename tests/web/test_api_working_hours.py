"""/api/working-hours/: each technician's working hours on their own clock, answered on the
caller's (what the calendar shades and checks drops against).

Expected instants are built with dateutil's zone data, not with our code: New York moves from
EST (UTC-5) to EDT (UTC-4) on Sunday 8 March 2026, Amsterdam stays on CET (UTC+1) until 29 March.
"""

from datetime import datetime

from dateutil import tz

from tests.web.test_pages_calendars import config_of

NEW_YORK, AMSTERDAM = tz.gettz("America/New_York"), tz.gettz("Europe/Amsterdam")
URL = "/api/working-hours/"


def _on(zone, day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=zone)


def test_hours_follow_the_technicians_zone_across_its_dst_change(api_client, coordinator, make_agent, alice):
    """Frank (New York) works 08:00-17:00 his time, Monday to Friday: 14:00-23:00 Amsterdam before
    8 March, 13:00-22:00 after; Alice (Amsterdam) 08:00-17:00 throughout. The coordinator's
    answer is on Amsterdam's clock (+01:00)."""
    frank = make_agent("frank", time_zone="America/New_York")
    start, end = _on(AMSTERDAM, 5, 0), _on(AMSTERDAM, 11, 0)
    response = api_client(coordinator).get(
        URL, {"start": start.isoformat(), "end": end.isoformat(), "agent": [frank.pk, alice.pk]}
    )
    assert response.status_code == 200
    body = response.json()["agents"]
    frank_hours = [(datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"])) for i in body[str(frank.pk)]]
    assert frank_hours == [(_on(NEW_YORK, day, 8), _on(NEW_YORK, day, 17)) for day in (5, 6, 9, 10)]
    assert [(b.hour, e.hour) for b, e in frank_hours] == [(14, 23), (14, 23), (13, 22), (13, 22)]
    assert all(i["start"].endswith("+01:00") for i in body[str(frank.pk)])
    alice_hours = [(datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"])) for i in body[str(alice.pk)]]
    assert alice_hours == [(_on(AMSTERDAM, day, 8), _on(AMSTERDAM, day, 17)) for day in (5, 6, 9, 10)]


def test_a_public_holiday_has_no_hours_and_the_period_is_clipped(api_client, alice, make_agent):
    """Erin (London, England's holidays) on Good Friday 3 April 2026 has none; the period cut at
    noon London on Thursday 2 April leaves 08:00-12:00 (BST, UTC+1). Alice asks: Amsterdam clock."""
    erin = make_agent("erin", time_zone="Europe/London", holiday_country="GB", holiday_region="ENG")
    london = tz.gettz("Europe/London")
    start, end = datetime(2026, 4, 2, 0, tzinfo=london), datetime(2026, 4, 2, 12, tzinfo=london)
    wide = api_client(alice.user).get(
        URL, {"start": start.isoformat(), "end": "2026-04-04T00:00:00+01:00", "agent": erin.pk}
    )
    cut = api_client(alice.user).get(URL, {"start": start.isoformat(), "end": end.isoformat(), "agent": erin.pk})
    days = [datetime.fromisoformat(i["start"]).date().day for i in wide.json()["agents"][str(erin.pk)]]
    assert days == [2]
    [interval] = cut.json()["agents"][str(erin.pk)]
    assert (datetime.fromisoformat(interval["start"]), datetime.fromisoformat(interval["end"])) == (
        datetime(2026, 4, 2, 8, tzinfo=london),
        end,
    )
    assert interval["start"] == "2026-04-02T09:00:00+02:00"


def test_without_technicians_or_a_team_a_technician_gets_their_own_hours(api_client, alice, bob):
    """Dispatch gap 3: a query naming nobody used to answer 400; it is the caller's own calendar
    now (Alice, Monday 2 March 2026, 08:00-17:00 Amsterdam)."""
    response = api_client(alice.user).get(URL, {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"})
    assert response.status_code == 200
    assert response.json()["agents"] == {
        str(alice.pk): [{"start": "2026-03-02T08:00:00+01:00", "end": "2026-03-02T17:00:00+01:00"}]
    }


def test_half_a_period_is_refused(api_client, alice):
    response = api_client(alice.user).get(URL, {"start": "2026-03-02T00:00:00Z"})
    assert response.status_code == 400
    assert response.json() == {"end": ["Give end too, or neither start nor end."]}


def test_calendars_open_at_the_earliest_working_hour_on_the_viewers_clock(page_client, coordinator, make_agent):
    """Frank (New York) alone: the coordinator's (Amsterdam) day and week views open at 14:00 in
    the week of 2 March (EST), 13:00 in the week of 9 March (EDT); with Alice, at 08:00."""
    frank = make_agent("frank", time_zone="America/New_York")
    client = page_client(coordinator)
    opens = {
        day: config_of(client.get("/calendar/group/", {"agent": frank.pk, "date": day}))["scrollTime"]
        for day in ("2026-03-02", "2026-03-09")
    }
    assert opens == {"2026-03-02": "14:00", "2026-03-09": "13:00"}
    assert config_of(client.get("/calendar/", {"agent": frank.pk, "date": "2026-03-02"}))["scrollTime"] == "14:00"
    alice = make_agent("alice")
    both = client.get("/calendar/group/", {"agent": [frank.pk, alice.pk], "date": "2026-03-02"})
    assert config_of(both)["scrollTime"] == "08:00"


def test_the_most_technicians_one_query_may_name_cost_what_one_costs(api_client, coordinator, busy_technicians):
    """Working hours and free slots of one technician and of MAX_TECHNICIANS (the cap, past which
    the calendar asks in batches), four weeks, busy every working day: the same number of SQL
    queries; one more technician is refused with a message."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from calendars.availability import MAX_TECHNICIANS

    agents = busy_technicians(MAX_TECHNICIANS + 1, datetime(2035, 3, 5, tzinfo=AMSTERDAM), busy=(10, 11))
    client = api_client(coordinator)
    period = {"start": "2035-03-05T00:00", "end": "2035-04-02T00:00"}
    client.get("/api/availability/", {**period, "agent": agents[0].pk, "duration": 60})  # the user's lookups, once
    queries = {}
    for count in (1, MAX_TECHNICIANS):
        ids = [agent.pk for agent in agents[:count]]
        with CaptureQueriesContext(connection) as hours:
            assert client.get(URL, {**period, "agent": ids}).status_code == 200
        with CaptureQueriesContext(connection) as slots:
            answer = client.get("/api/availability/", {**period, "agent": ids, "duration": 60, "mode": "any"})
            assert answer.status_code == 200
        queries[count] = (len(hours), len(slots))
    assert queries[1] == queries[MAX_TECHNICIANS]
    refused = client.get(URL, {**period, "agent": [agent.pk for agent in agents]})
    assert refused.status_code == 400
    assert refused.json()["agent"] == [f"Choose at most {MAX_TECHNICIANS} technicians."]


def test_public_holidays_are_the_technicians_whole_day_on_the_viewers_clock(api_client, coordinator, make_agent):
    """Martin Luther King Jr. Day is the third Monday of January (5 U.S.C. 6103): 18 January 2027.
    Frank (New York, EST, UTC-5) has it from 00:00 to 24:00 his time, which the coordinator
    (Amsterdam, CET, UTC+1) reads as Monday 06:00 to Tuesday 06:00, and no working hours that
    day. Epiphany (6 January 2027, a Wednesday) in Bavaria is Greta's (Berlin, also UTC+1) whole
    Wednesday; New Year's Day in Bavaria (Friday 1 January) is before the period, and Sunday 17
    January is no holiday; a holiday on a day she does not work is not listed."""
    frank = make_agent("frank", time_zone="America/New_York", holiday_country="US")
    greta = make_agent("greta", time_zone="Europe/Berlin", holiday_country="DE", holiday_region="BY")
    start, end = datetime(2027, 1, 4, tzinfo=AMSTERDAM), datetime(2027, 1, 25, tzinfo=AMSTERDAM)
    answer = api_client(coordinator).get(
        URL, {"start": start.isoformat(), "end": end.isoformat(), "agent": [frank.pk, greta.pk]}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["days_off"][str(frank.pk)] == [
        {"start": "2027-01-18T06:00:00+01:00", "end": "2027-01-19T06:00:00+01:00", "name": "Martin Luther King Jr. Day"}
    ]
    assert [i["start"][:10] for i in body["agents"][str(frank.pk)]].count("2027-01-18") == 0
    assert body["days_off"][str(greta.pk)] == [
        {"start": "2027-01-06T00:00:00+01:00", "end": "2027-01-07T00:00:00+01:00", "name": "Epiphany"}
    ]
    greta.working_days = [0, 1, 3, 4]  # not Wednesdays
    greta.save()
    again = api_client(coordinator).get(URL, {"start": start.isoformat(), "end": end.isoformat(), "agent": greta.pk})
    assert again.json()["days_off"][str(greta.pk)] == []
