"""Double-booking warnings, /api/availability/ and token users' zone (issue 15).

The fixed week is that of tests.web.conftest: Monday 2 March 2026, Amsterdam CET (UTC+1),
London GMT (UTC+0).
"""

from datetime import UTC, datetime, time

import jsonschema
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from calendars import services
from calendars.models import Appointment, CalendarSettings
from tests.web.conftest import at
from tickets import services as ticket_services
from tickets.models import Request

LIST = "/api/appointments/"


def _new(agents, start, end, **extra) -> dict:
    return {"subject": "Install", "start": start.isoformat(), "end": end.isoformat(), "agents": agents, **extra}


def test_an_overlap_is_refused_with_409_naming_it(api_client, coordinator, bob, bobs_appointment):
    """Bob's job is 11:00-12:00 Amsterdam; a coordinator (site zone Amsterdam) books 11:30-12:30."""
    response = api_client(coordinator).post(LIST, _new([bob.pk], at(2, 11, 30), at(2, 12, 30)), format="json")
    assert response.status_code == 409
    body = response.json()
    assert [o["message"] for o in body["overlaps"]] == ["overlaps Bob's 'Bob's job' 11:00–12:00"]
    assert "overlaps Bob's 'Bob's job' 11:00–12:00" in body["detail"]
    assert Appointment.objects.count() == 1


def _schema_of(client: APIClient, component: str) -> dict:
    """A component of the generated OpenAPI document (/api/schema/), its $refs resolvable."""
    document = client.get("/api/schema/", {"format": "json"}).json()
    return {**document["components"]["schemas"][component], "components": document["components"]}


def test_the_409_body_has_the_json_types_of_the_schema(
    api_client, coordinator, alice, bob, bobs_appointment, private_external
):
    """Each answer is validated against the OverlapConflict component (agent an integer,
    external a boolean), for a helpdesk entry (Bob's job) and an imported one (Alice's)."""
    client = api_client(coordinator)
    schema = _schema_of(client, "OverlapConflict")
    for agent, start, end, external in ((bob, at(2, 11), at(2, 12), False), (alice, at(3, 14), at(3, 15), True)):
        response = client.post(LIST, _new([agent.pk], start, end), format="json")
        assert response.status_code == 409
        body = response.json()
        jsonschema.validate(body, schema)
        [overlap] = body["overlaps"]
        assert overlap["agent"] == agent.pk and overlap["external"] is external
        assert (datetime.fromisoformat(overlap["start"]), datetime.fromisoformat(overlap["end"])) == (start, end)


def test_a_confirmed_overlap_is_saved(api_client, coordinator, bob, bobs_appointment):
    data = _new([bob.pk], at(2, 11, 30), at(2, 12, 30), confirm_overlap=True)
    response = api_client(coordinator).post(LIST, data, format="json")
    assert response.status_code == 201
    assert Appointment.objects.count() == 2


def test_imported_busy_time_is_named_without_its_private_details(api_client, coordinator, alice, private_external):
    """Alice's imported private entry is 14:00-15:00 Amsterdam on Tuesday 3 March."""
    response = api_client(coordinator).post(LIST, _new([alice.pk], at(3, 14, 30), at(3, 16)), format="json")
    assert response.status_code == 409
    assert response.json()["overlaps"][0]["message"] == "busy in Alice's external calendar 14:00–15:00"
    for secret in ("Doctor", "results", "Secret", "Hospital", "doc@example.com"):
        assert secret not in response.content.decode()


def test_entries_shown_as_free_and_touching_entries_are_no_overlap(api_client, coordinator, bob, bobs_appointment):
    services.create_appointment(subject="On call", start=at(2, 13), end=at(2, 17), agents=[bob], busy=False)
    client = api_client(coordinator)
    assert client.post(LIST, _new([bob.pk], at(2, 12), at(2, 13)), format="json").status_code == 201
    assert client.post(LIST, _new([bob.pk], at(2, 14), at(2, 15)), format="json").status_code == 201


def test_admins_can_turn_the_warning_off(api_client, coordinator, bob, bobs_appointment):
    settings = CalendarSettings.load()
    settings.warn_overlaps = False
    settings.save()
    response = api_client(coordinator).post(LIST, _new([bob.pk], at(2, 11), at(2, 12)), format="json")
    assert response.status_code == 201


def test_moving_onto_busy_time_asks_first(api_client, coordinator, alice, bob, bobs_appointment):
    """A drag on the own calendar is a PATCH of start and end; on the group calendar a reassign."""
    mine = services.create_appointment(subject="Mine", start=at(2, 9), end=at(2, 10), agents=[bob])
    client = api_client(coordinator)
    moved = {"start": at(2, 11).isoformat(), "end": at(2, 12).isoformat()}
    response = client.patch(f"{LIST}{mine.pk}/", moved, format="json")
    assert response.status_code == 409
    mine.refresh_from_db()
    assert mine.start == at(2, 9)
    assert client.patch(f"{LIST}{mine.pk}/", {**moved, "confirm_overlap": True}, format="json").status_code == 200
    # Editing the subject of an entry already overlapping does not ask again.
    assert client.patch(f"{LIST}{mine.pk}/", {"subject": "Renamed"}, format="json").status_code == 200

    alices = services.create_appointment(subject="Alice's", start=at(2, 11), end=at(2, 12), agents=[alice])
    reassign = {"from_agent": alice.pk, "to_agent": bob.pk}
    response = client.post(f"{LIST}{alices.pk}/reassign/", reassign, format="json")
    assert response.status_code == 409
    assert list(alices.agents.all()) == [alice]
    response = client.post(f"{LIST}{alices.pk}/reassign/", {**reassign, "confirm_overlap": True}, format="json")
    assert response.status_code == 200
    assert list(alices.agents.all()) == [bob]


def test_the_form_asks_before_saving_an_overlap(page_client, coordinator, bob, bobs_appointment):
    url = reverse("calendars:appointment-create")
    data = {
        "subject": "Install",
        "start": "2026-03-02 11:30",
        "end": "2026-03-02 12:30",
        "agents": [bob.pk],
        "entries": "each",
    }
    client = page_client(coordinator)
    page = client.post(url, data)
    assert page.status_code == 200
    text = page.content.decode()
    assert "overlaps Bob&#x27;s &#x27;Bob&#x27;s job&#x27; 11:00–12:00" in text
    assert 'type="checkbox" name="confirm_overlap"' in text
    assert Appointment.objects.count() == 1
    assert client.post(url, {**data, "confirm_overlap": "on"}).status_code == 302
    assert Appointment.objects.count() == 2


def test_availability_lists_free_slots_with_their_technicians(api_client, coordinator, alice, bob):
    """Monday 5 March 2035 (slots are never in the past), default hours 08:00-17:00 on each wall
    clock: Alice (Amsterdam, CET) 07:00-16:00 UTC, Bob (London, GMT) 08:00-17:00 UTC, Bob busy
    10:00-11:00 UTC. Together, 2 hours, step 1 hour, from 00:00 UTC: both free 08:00-10:00 and
    11:00-16:00 UTC: starts 08:00, 11:00, 12:00, 13:00, 14:00 UTC."""
    services.create_appointment(
        subject="Job",
        start=datetime(2035, 3, 5, 10, tzinfo=UTC),
        end=datetime(2035, 3, 5, 11, tzinfo=UTC),
        agents=[bob],
    )
    response = api_client(coordinator).get(
        "/api/availability/",
        {
            "agent": [alice.pk, bob.pk],
            "start": "2035-03-05T00:00:00Z",
            "end": "2035-03-06T00:00:00Z",
            "duration": 120,
            "step": 60,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["agents"] == {str(alice.pk): "Alice", str(bob.pk): "Bob"}
    # The coordinator has no zone of their own: the site's (Amsterdam, UTC+1).
    assert [slot["start"] for slot in body["slots"]] == [
        "2035-03-05T09:00:00+01:00",
        "2035-03-05T12:00:00+01:00",
        "2035-03-05T13:00:00+01:00",
        "2035-03-05T14:00:00+01:00",
        "2035-03-05T15:00:00+01:00",
    ]
    assert {tuple(slot["agents"]) for slot in body["slots"]} == {(alice.pk, bob.pk)}


def test_availability_of_a_team_any_one(api_client, coordinator, make_agent):
    """Carol works 08:00-10:00, Dave 09:00-11:00, both Amsterdam, team Desk. Any one, one hour,
    step 30 minutes, Monday 5 March 2035 from 08:00 local: 08:00, 08:30 Carol; 09:00 Carol and
    Dave; 09:30, 10:00 Dave."""
    make_agent("carol", team="Desk", working_hours_start=time(8), working_hours_end=time(10))
    dave = make_agent("dave", team="Desk", working_hours_start=time(9), working_hours_end=time(11))
    team = dave.teams.get()
    response = api_client(coordinator).get(
        "/api/availability/",
        {"team": team.pk, "start": "2035-03-05T08:00", "end": "2035-03-05T18:00", "duration": 60, "mode": "any"},
    )
    assert response.status_code == 200
    slots = [(slot["start"][11:16], len(slot["agents"])) for slot in response.json()["slots"]]
    assert slots == [("08:00", 1), ("08:30", 1), ("09:00", 2), ("09:30", 1), ("10:00", 1)]


def test_availability_refuses_bad_input_clearly(api_client, coordinator, alice):
    client = api_client(coordinator)
    base = {"agent": [alice.pk], "start": "2026-03-02", "end": "2026-03-03", "duration": 60}
    assert "agent" in client.get("/api/availability/", {**base, "agent": list(range(1, 202))}).json()
    assert "end" in client.get("/api/availability/", {**base, "end": "2026-03-01"}).json()
    assert "end" in client.get("/api/availability/", {**base, "end": "2026-06-02"}).json()
    assert "duration" in client.get("/api/availability/", {**base, "duration": 0}).json()
    assert "mode" in client.get("/api/availability/", {**base, "mode": "everyone"}).json()


def test_availability_is_in_the_schema(api_client, coordinator):
    schema = api_client(coordinator).get("/api/schema/", {"format": "json"}).json()
    assert "/api/availability/" in schema["paths"]
    assert "409" in schema["paths"]["/api/appointments/"]["post"]["responses"]


def test_token_users_get_answers_in_their_own_zone(bob, bobs_appointment):
    """Bob is in London (GMT, UTC+0 in March): his job at 11:00 Amsterdam is 10:00+00:00 for him,
    with a token as with a session; the site's zone would say 11:00+01:00."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=bob.user)[1]}")
    item = client.get(f"{LIST}{bobs_appointment.pk}/").json()
    assert item["start"] == "2026-03-02T10:00:00Z" or item["start"] == "2026-03-02T10:00:00+00:00"


def test_availability_is_for_technicians_and_coordinators(api_client, reader, alice):
    query = {"agent": [alice.pk], "start": "2035-03-05", "end": "2035-03-06", "duration": 60}
    assert api_client(reader).get("/api/availability/", query).status_code == 403
    assert api_client(alice.user).get("/api/availability/", query).status_code == 200


def test_planning_a_request_onto_busy_time_asks_first_in_the_api(api_client, coordinator, bob, bobs_appointment):
    """Bob's job is 11:00-12:00 Amsterdam; his request planned at 11:30 (the default hour's
    estimate) would overlap it: 409 naming the job, nothing planned; confirmed, it is planned."""
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[bob])
    client = api_client(coordinator)
    plan = {"planned_start": at(2, 11, 30).isoformat()}
    response = client.patch(f"/api/requests/{ticket.pk}/", plan, format="json")
    assert response.status_code == 409
    assert [o["message"] for o in response.json()["overlaps"]] == ["overlaps Bob's 'Bob's job' 11:00–12:00"]
    assert Request.objects.get(pk=ticket.pk).planned_start is None
    assert not Appointment.objects.filter(request=ticket).exists()
    response = client.patch(f"/api/requests/{ticket.pk}/", {**plan, "confirm_overlap": True}, format="json")
    assert response.status_code == 200
    assert Request.objects.get(pk=ticket.pk).planned_start == at(2, 11, 30)
    created = client.post("/api/requests/", {"summary": "Scanner", "assigned_agents": [bob.pk], **plan}, format="json")
    assert created.status_code == 409


def test_the_request_form_asks_before_planning_onto_busy_time(page_client, coordinator, bob, bobs_appointment):
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[bob])
    client = page_client(coordinator)
    data = {"summary": "Printer", "status": "new", "assigned_agents": [bob.pk], "planned_start": "2026-03-02 11:30"}
    page = client.post(f"/requests/{ticket.pk}/edit/", data)
    assert page.status_code == 200
    text = page.content.decode()
    assert "overlaps Bob&#x27;s &#x27;Bob&#x27;s job&#x27; 11:00–12:00" in text
    assert 'type="checkbox" name="confirm_overlap"' in text
    assert Request.objects.get(pk=ticket.pk).planned_start is None
    assert client.post(f"/requests/{ticket.pk}/edit/", {**data, "confirm_overlap": "on"}).status_code == 302
    assert Request.objects.get(pk=ticket.pk).planned_start == at(2, 11, 30)


def test_private_and_imported_entries_are_named_without_their_subject(api_client, coordinator, bob):
    """Bob's private helpdesk entry 09:00-10:00 and his imported (not private) one 13:00-14:00,
    Monday 2 March Amsterdam: the 409 names each by owner and time only."""
    services.create_appointment(subject="Dentist", start=at(2, 9), end=at(2, 10), agents=[bob], private=True)
    services.create_appointment(
        subject="Board meeting", start=at(2, 13), end=at(2, 14), agents=[bob], source=Appointment.Source.EXTERNAL
    )
    response = api_client(coordinator).post(LIST, _new([bob.pk], at(2, 9, 30), at(2, 13, 30)), format="json")
    assert response.status_code == 409
    assert [o["message"] for o in response.json()["overlaps"]] == [
        "overlaps Bob's private appointment 09:00–10:00",
        "busy in Bob's external calendar 13:00–14:00",
    ]
    assert [o["subject"] for o in response.json()["overlaps"]] == ["", ""]
    assert "Dentist" not in response.content.decode() and "Board meeting" not in response.content.decode()


def test_confirm_overlap_in_the_query_string_answers_400_naming_the_body_field(
    api_client, coordinator, alice, bob, bobs_appointment
):
    """Trial report, problem 7: `?confirm_overlap=1` answered 409 as if the confirmation did not
    count. It is a JSON body field only; in the query string a write answers 400 naming it, and
    nothing is written (create, move, reassign, plan a request)."""
    client = api_client(coordinator)
    mine = services.create_appointment(subject="Mine", start=at(2, 9), end=at(2, 10), agents=[bob])
    alices = services.create_appointment(subject="Alice's", start=at(2, 11), end=at(2, 12), agents=[alice])
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[bob])
    moved = {"start": at(2, 11).isoformat(), "end": at(2, 12).isoformat()}
    writes = [
        ("post", LIST, _new([bob.pk], at(2, 11, 30), at(2, 12, 30))),
        ("patch", f"{LIST}{mine.pk}/", moved),
        ("post", f"{LIST}{alices.pk}/reassign/", {"from_agent": alice.pk, "to_agent": bob.pk}),
        ("patch", f"/api/requests/{ticket.pk}/", {"planned_start": at(2, 11, 30).isoformat()}),
    ]
    for method, url, body in writes:
        response = getattr(client, method)(f"{url}?confirm_overlap=1", body, format="json")
        assert response.status_code == 400, url
        assert "JSON request body" in response.json()["confirm_overlap"][0]
    assert Appointment.objects.count() == 3
    mine.refresh_from_db()
    assert mine.start == at(2, 9)
    assert list(alices.agents.all()) == [alice]
    assert Request.objects.get(pk=ticket.pk).planned_start is None


def test_the_schema_says_confirm_overlap_is_a_body_field(api_client, coordinator):
    document = api_client(coordinator).get("/api/schema/", {"format": "json"}).json()
    for component in ("Appointment", "Request", "Reassign"):
        field = document["components"]["schemas"][component]["properties"]["confirm_overlap"]
        assert "JSON body field" in field["description"]
    operations = [op for path in document["paths"].values() for op in path.values() if isinstance(op, dict)]
    parameters = [parameter["name"] for op in operations for parameter in op.get("parameters", [])]
    assert "confirm_overlap" not in parameters


def test_availability_without_start_proposes_starts_on_the_30_minute_grid(api_client, coordinator, alice):
    """Trial 2 item 5: left-out start gave starts at the current second (21:05:28.631028); the page's
    stated grid is whole hours in 30-minute steps, so every start has :00 or :30 and no seconds."""
    response = api_client(coordinator).get("/api/availability/", {"agent": [alice.pk], "duration": 60, "limit": 5})
    assert response.status_code == 200
    starts = [datetime.fromisoformat(slot["start"]) for slot in response.json()["slots"]]
    assert starts
    assert all(s.minute in (0, 30) and s.second == 0 and s.microsecond == 0 for s in starts)
