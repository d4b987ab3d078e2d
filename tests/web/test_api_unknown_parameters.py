"""A read with a query parameter its endpoint does not take answers 400 naming it (trial notes:
`/api/appointments/?master=94` and `/api/working-hours/?agents=3` answered everything).

The accepted lists below are written from the API's documented parameters (SPEC, the list
filters and DRF's own `page`, `page_size` and `format`); the sweep over every read takes its
operations and their parameters from the OpenAPI document drf-spectacular makes, not from the
code that answers the 400."""

from agents.models import Team

APPOINTMENT_LIST_PARAMETERS = [
    "agent",
    "end",
    "format",
    "page",
    "page_size",
    "recurring",
    "request",
    "source",
    "start",
    "team",
]


def test_appointment_list_with_an_unknown_parameter_answers_400_naming_it(api_client, coordinator, alices_appointment):
    response = api_client(coordinator).get("/api/appointments/", {"master": "94"})
    assert response.status_code == 400
    body = response.json()
    assert body["unknown"] == ["master"]
    assert body["accepted"] == APPOINTMENT_LIST_PARAMETERS
    assert body["detail"] == (
        "Unknown query parameter: master. This endpoint takes: " + ", ".join(APPOINTMENT_LIST_PARAMETERS) + "."
    )


def test_working_hours_with_agents_for_agent_answers_400(api_client, coordinator, alice):
    response = api_client(coordinator).get("/api/working-hours/", {"agents": alice.pk})
    assert response.status_code == 400
    assert response.json()["unknown"] == ["agents"]
    assert response.json()["accepted"] == ["agent", "end", "format", "start", "team"]


def test_several_unknown_parameters_are_all_named(api_client, coordinator):
    response = api_client(coordinator).get("/api/requests/", {"stauts": "open", "serach": "x", "status": "open"})
    assert response.status_code == 400
    assert response.json()["unknown"] == ["serach", "stauts"]
    assert response.json()["detail"].startswith("Unknown query parameters: serach, stauts. ")


def test_drf_page_size_and_format_parameters_are_still_taken(api_client, coordinator, alices_appointment):
    response = api_client(coordinator).get(
        "/api/appointments/", {"start": "2026-03-01", "end": "2026-03-09", "page": 1, "page_size": 5, "format": "json"}
    )
    assert response.status_code == 200
    assert [item["subject"] for item in response.json()["results"]] == ["Visit Acme"]


def test_a_single_item_takes_only_format(api_client, coordinator, alices_appointment):
    client = api_client(coordinator)
    assert client.get(f"/api/appointments/{alices_appointment.pk}/", {"format": "json"}).status_code == 200
    response = client.get(f"/api/appointments/{alices_appointment.pk}/", {"page": 2})
    assert response.status_code == 400
    assert response.json()["accepted"] == ["format"]


def test_unknown_parameters_are_checked_after_authentication(client):
    assert client.get("/api/appointments/", {"master": "94"}).status_code in (401, 403)


def _reads(document: dict) -> list[tuple[str, dict]]:
    """Every GET operation of the API's schema but the schema and its docs page."""
    return [
        (path, operations["get"])
        for path, operations in document["paths"].items()
        if "get" in operations and not path.startswith(("/api/schema/", "/api/docs/"))
    ]


def test_every_read_refuses_an_unknown_parameter_and_takes_its_documented_ones(
    api_client, coordinator, schema_document, some_of_everything
):
    ids, action = some_of_everything
    ids["teams"] = Team.objects.create(name="Field").pk
    client = api_client(coordinator)
    reads = _reads(schema_document)
    assert len(reads) >= 13
    for path, operation in reads:
        collection = path.split("/")[2]
        url = path.replace("{request_pk}", str(ids["requests"])).replace(
            "{id}", str(action.pk if "actions" in path else ids.get(collection))
        )
        response = client.get(url, {"bogus": "1"})
        assert response.status_code == 400, (path, response.content)
        assert response.json()["unknown"] == ["bogus"], path
        documented = {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"}
        assert documented <= set(response.json()["accepted"]), path
        assert "400" in operation["responses"], path


# --- request bodies (trial fault 10): one rule for every serializer (helpdesk.api_common.KnownFields) ---


def test_appointment_post_with_an_unknown_body_field_answers_400_naming_it(api_client, coordinator, alice):
    body = {
        "subject": "Visit",
        "start": "2026-03-02T09:00:00",
        "end": "2026-03-02T10:00:00",
        "agents": [alice.pk],
        "tz": "Mars/Olympus",
    }
    response = api_client(coordinator).post("/api/appointments/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["tz"]
    assert "Unknown field" in response.json()["tz"][0] and "subject" in response.json()["tz"][0]


def test_request_and_action_bodies_with_an_unknown_field_answer_400(api_client, coordinator, alice, ticket):
    client = api_client(coordinator)
    request = client.post("/api/requests/", {"summary": "Printer", "colour": "red"}, format="json")
    body = {"agent": alice.pk, "done_at": "2026-03-02T09:00:00Z", "minutes": 30}
    action = client.post(f"/api/requests/{ticket.pk}/actions/", body, format="json")
    assert (request.status_code, list(request.json())) == (400, ["colour"])
    assert (action.status_code, list(action.json())) == (400, ["minutes"])


def test_reassign_with_an_unknown_field_answers_400(api_client, coordinator, alice, bob, alices_appointment):
    url = f"/api/appointments/{alices_appointment.pk}/reassign/"
    body = {"from_agent": alice.pk, "to_agent": bob.pk, "notify": True}
    response = api_client(coordinator).post(url, body, format="json")
    assert response.status_code == 400 and "notify" in response.json()
    assert list(alices_appointment.agents.all()) == [alice]


def test_availability_duration_message_says_minutes(api_client, coordinator, alice):
    response = api_client(coordinator).get("/api/availability/", {"agent": alice.pk, "duration": "banana"})
    assert response.status_code == 400
    assert response.json()["duration"] == ["Give a whole number of minutes from 5 to 7200."]
