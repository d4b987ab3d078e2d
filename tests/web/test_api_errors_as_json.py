"""Every answer under /api/ is JSON, errors Django makes itself too (trial notes (2): a 12 MB
JSON body answered Django's HTML 400 page, with DEBUG on as in the demo).

The limit is Django's default DATA_UPLOAD_MAX_MEMORY_SIZE, 2,621,440 bytes = 2.5 MB (Django's
settings reference); the project does not change it."""

import json

import pytest
from django.test import Client

DEBUG_ON_AND_OFF = pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])


@pytest.fixture
def signed_in(coordinator) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(coordinator)
    return client


@DEBUG_ON_AND_OFF
def test_a_12_mb_json_body_answers_a_json_400(signed_in, settings, debug):
    settings.DEBUG = debug
    body = json.dumps({"subject": "x", "note": "n" * (12 * 1024 * 1024)})
    response = signed_in.post("/api/appointments/", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "The request body is larger than the 2.5 MB the API reads: send less in one request."
    }


@DEBUG_ON_AND_OFF
def test_an_api_path_nothing_matches_answers_a_json_404(signed_in, settings, debug):
    settings.DEBUG = debug
    response = signed_in.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Not found")


def test_a_method_an_endpoint_does_not_take_answers_a_json_405(signed_in):
    response = signed_in.delete("/api/working-hours/")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json() == {"detail": 'Method "DELETE" not allowed.'}


@pytest.mark.urls("tests.web.api_crash_urls")
@DEBUG_ON_AND_OFF
def test_a_server_error_under_the_api_answers_a_json_500(signed_in, settings, debug, caplog):
    settings.DEBUG = debug
    response = signed_in.get("/api/crash/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Server error: the request failed on the server and was logged."}
    assert "a fault in a view" in caplog.text


def test_pages_outside_the_api_keep_their_html_404(signed_in):
    response = signed_in.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_browsable_api_keeps_its_html_error_page(signed_in):
    response = signed_in.get("/api/appointments/", {"master": "94"}, HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "Unknown query parameter: master." in response.content.decode()
