"""A read with a query parameter its endpoint does not take answers 400 naming it (trial notes:
`/api/appointments/?master=94` and `/api/working-hours/?agents=3` answered everything).

The accepted lists below are written from the API's documented parameters (SPEC, the list
filters and DRF's own `page`, `page_size` and `format`); the sweep over every read takes its
operations and their parameters from the OpenAPI document drf-spectacular makes, not from the
code that answers the 400."""

from agents.models import Team
from calendars.models import Appointment
from tests.web.test_api_series import make_series
from tickets.models import Action, Request

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
    assert response.json()["duration"] == [
        "Give a whole number of minutes from 5 to 7200, or an ISO 8601 duration such as PT1H30M."
    ]


# --- every write in the schema (KnownFields enforced): an unknown body field answers 400 naming it ---

WRITES = ("post", "put", "patch")
UNKNOWN = "bogus_field"


def _writes(document: dict) -> list[tuple[str, str, dict]]:
    """(method, path, request body schema) of every write operation of the API's schema with a JSON body."""
    found = []
    for path, operations in document["paths"].items():
        for method in WRITES:
            body = operations.get(method, {}).get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                found.append((method, path, body["schema"]))
    return found


def _component(document: dict, schema: dict) -> dict:
    """The schema a `$ref` names (or the schema itself)."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _nested_bodies(document: dict, schema: dict) -> list[tuple[str, dict]]:
    """(property, body) for each writable property that is an object or a list of objects: the body
    carries one such object whose only field is unknown."""
    bodies = []
    for name, prop in _component(document, schema).get("properties", {}).items():
        if prop.get("readOnly"):
            continue
        if prop.get("type") == "array" and _component(document, prop.get("items", {})).get("properties"):
            bodies.append((name, {name: [{UNKNOWN: "x"}]}))
        elif _component(document, prop).get("properties"):
            bodies.append((name, {name: {UNKNOWN: "x"}}))
    return bodies


def _mentions(errors, name: str) -> bool:
    """Whether DRF's error body names the field `name` as a key, at any depth."""
    if isinstance(errors, dict):
        return name in errors or any(_mentions(value, name) for value in errors.values())
    if isinstance(errors, list):
        return any(_mentions(value, name) for value in errors)
    return False


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Appointment, Request, Action)}


def test_every_write_refuses_an_unknown_body_field_naming_it(
    api_client, coordinator, schema_document, some_of_everything
):
    """Walks every POST, PUT and PATCH of the OpenAPI document drf-spectacular makes: a body with a
    field the operation does not document answers 400 with that field's name as the error's key
    (at the top level, and inside each object the body nests); nothing is written."""
    ids, action = some_of_everything
    client = api_client(coordinator)
    writes = _writes(schema_document)
    assert len(writes) >= 12
    refused, probed = [], set()
    before = _counts()
    for method, path, schema in writes:
        collection = path.split("/")[2]
        url = path.replace("{request_pk}", str(ids["requests"])).replace(
            "{id}", str(action.pk if "actions" in path else ids.get(collection))
        )
        documented = set(_component(schema_document, schema).get("properties", {}))
        assert UNKNOWN not in documented, path
        for where, body in [("", {UNKNOWN: "x"}), *_nested_bodies(schema_document, schema)]:
            probed.add((path, where))
            response = getattr(client, method)(url, body, format="json")
            ok = response.status_code == 400 and _mentions(response.json(), UNKNOWN)
            if where == "" and ok:
                ok = list(response.json()) == [UNKNOWN] and "Unknown field" in response.json()[UNKNOWN][0]
            if not ok:
                refused.append((method.upper(), path, where, response.status_code, response.content[:200]))
    assert refused == []
    assert ("/api/requests/{id}/book-split/", "parts") in probed  # the walk reaches nested bodies
    assert _counts() == before


# --- query parameters of writes (trial F6): a write takes only `format`; its fields are in the body ---


def test_delete_of_an_occurrence_with_scope_all_answers_400_naming_it_and_deletes_nothing(api_client, alice):
    """Trial F6: `DELETE /api/appointments/<occurrence>/?scope=all` answered 204 and cancelled that
    one occurrence, the client believing the series gone. The operation documents no parameter."""
    client = api_client(alice.user)
    master = make_series(client, alice)
    occurrence = master.occurrences.order_by("original_start")[1]

    response = client.delete(f"/api/appointments/{occurrence.pk}/?scope=all")

    assert response.status_code == 400
    assert response.json()["unknown"] == ["scope"]
    assert response.json()["accepted"] == ["format"]
    assert "Nothing was changed" in response.json()["detail"]
    assert not master.occurrences.filter(is_cancelled=True).exists()
    assert client.delete(f"/api/appointments/{occurrence.pk}/?format=json").status_code == 204


def test_deleting_a_series_master_is_documented_as_deleting_the_series(schema_document):
    delete = schema_document["paths"]["/api/appointments/{id}/"]["delete"]
    assert "whole series" in delete["description"]
    assert "400" in delete["responses"]


WRITE_METHODS = ("post", "put", "patch", "delete")


def test_every_write_refuses_an_unknown_query_parameter_and_writes_nothing(
    api_client, coordinator, schema_document, some_of_everything
):
    """Walks every POST, PUT, PATCH and DELETE of the OpenAPI document: `?bogus=1` answers 400
    naming it (`format` the only parameter taken), before anything is written, and the schema
    lists that 400."""
    ids, action = some_of_everything
    client = api_client(coordinator)
    writes = [
        (method, path, operations[method])
        for path, operations in schema_document["paths"].items()
        for method in WRITE_METHODS
        if method in operations
    ]
    assert len(writes) >= 15
    before, wrong = _counts(), []
    for method, path, operation in writes:
        collection = path.split("/")[2]
        url = path.replace("{request_pk}", str(ids["requests"])).replace(
            "{id}", str(action.pk if "actions" in path else ids.get(collection))
        )
        response = getattr(client, method)(f"{url}?bogus=1", {}, format="json")
        body = response.json() if response.status_code == 400 else {}
        refused = body.get("unknown") == ["bogus"] and body.get("accepted") == ["format"]
        if not refused or "400" not in operation["responses"]:
            wrong.append((method.upper(), path, response.status_code, response.content[:200]))
    assert wrong == []
    assert _counts() == before
