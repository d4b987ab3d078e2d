"""A bad `?page=` on every paged list (trial, uifix 4): the API answered a bare 404 "Invalid
page." to `?page=abc` as to `?page=99999`. Now a value that is not a page number answers 400 on
the field and one past the last 404, each naming the pages there are; the request list page
(HTML) shows the nearest page, as Django's Paginator.get_page does.

The paged reads are taken from the OpenAPI document (each GET taking `page`), not from the code
that answers them."""

import pytest

from tests.web.conftest import at
from tests.web.test_api_unknown_parameters import _reads
from tickets import services as ticket_services

NOT_PAGE_NUMBERS = ["abc", "0", "-1", "1.5", ""]


def paged_reads(document: dict) -> list[str]:
    return [
        path
        for path, operation in _reads(document)
        if any(parameter["name"] == "page" for parameter in operation.get("parameters", []))
    ]


def url_of(path: str, ids: dict, action) -> str:
    return path.replace("{request_pk}", str(ids["requests"]))


def test_every_paged_read_answers_a_bad_page_clearly(api_client, coordinator, schema_document, some_of_everything):
    ids, action = some_of_everything
    client = api_client(coordinator)
    paths = paged_reads(schema_document)
    assert {"/api/appointments/", "/api/requests/"} <= set(paths), paths
    for path in paths:
        url = url_of(path, ids, action)
        first = client.get(url, {"page": 1})
        assert first.status_code == 200, (path, first.content)
        count = first.json()["count"]
        for value in NOT_PAGE_NUMBERS:
            if value == "":
                continue  # an empty page is the first page, as DRF reads it
            response = client.get(url, {"page": value})
            assert response.status_code == 400, (path, value, response.content)
            assert response.json() == {"page": [f"“{value}” is not a page number: give a whole number from 1 to 1."]}, (
                path
            )
        response = client.get(url, {"page": 99999})
        assert response.status_code == 404, (path, response.content)
        assert response.json() == {
            "detail": f"There is no page 99999: the last is page 1 ({count} in all, 100 a page)."
        }, path


def test_a_page_past_the_last_names_the_last_with_the_page_size_asked(api_client, coordinator, alice):
    for hour in range(8, 13):
        ticket_services.create_request(summary=f"Job {hour}", assigned_agents=[alice], planned_start=at(2, hour))
    client = api_client(coordinator)
    assert client.get("/api/requests/", {"page": 3, "page_size": 2}).status_code == 200
    response = client.get("/api/requests/", {"page": 4, "page_size": 2})
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no page 4: the last is page 3 (5 in all, 2 a page)."}
    assert len(client.get("/api/requests/", {"page": "last", "page_size": 2}).json()["results"]) == 1


@pytest.mark.parametrize(("value", "shown"), [("abc", 1), ("0", 2), ("-1", 2), ("99999", 2), ("2", 2)])
def test_the_request_list_page_shows_the_nearest_page(page_client, coordinator, alice, value, shown, monkeypatch):
    """Django's Paginator.get_page: not a number is the first page, out of range the last."""
    monkeypatch.setattr("tickets.views.PAGE_SIZE", 20)
    for number in range(30):
        ticket_services.create_request(summary=f"Job {number:02}", assigned_agents=[alice])
    response = page_client(coordinator).get("/requests/", {"page": value})
    assert response.status_code == 200
    assert f"Page {shown} of 2" in response.content.decode()
