"""The OpenAPI document (drf-spectacular) is made without warnings and validates, and the
dispatch endpoints document their parameters (dispatch gap 4)."""

from django.core.management import call_command


def test_the_schema_is_made_without_warnings_and_validates(tmp_path):
    """As `manage.py spectacular --validate --fail-on-warn`: a warning or an invalid document
    raises."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi:")


def test_find_a_slot_and_availability_document_every_parameter(api_client, coordinator):
    document = api_client(coordinator).get("/api/schema/", {"format": "json"}).json()
    find = document["paths"]["/api/requests/{id}/find-slot/"]["get"]
    availability = document["paths"]["/api/availability/"]["get"]

    assert {p["name"] for p in find["parameters"]} == {"id", "team", "buffer", "notice", "after", "count"}
    for operation in (find, availability):
        undocumented = [p["name"] for p in operation["parameters"] if p["name"] != "id" and not p.get("description")]
        assert undocumented == []
        assert set(operation["responses"]) == {"200", "400", "403"}
    assert not any(p.get("required") for p in availability["parameters"])
    for component in ("SlotProposals", "Availability"):
        assert {"searched_from", "searched_until"} <= set(document["components"]["schemas"][component]["properties"])
