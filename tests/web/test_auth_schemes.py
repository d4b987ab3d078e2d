"""The header schemes the README documents are the ones the code accepts (trial report: the
README says Bearer for one endpoint and Token for the other, and a user mixed them up).

- `/metrics`: `Authorization: Bearer <METRICS_TOKEN>` (RFC 6750; what Prometheus sends for
  `authorization: credentials:`, whose `type` defaults to Bearer).
- `/api/`: `Authorization: Token <token>` (django-rest-knox's scheme).
Auth schemes are case-insensitive (RFC 7235 section 2.1). The other product's scheme is refused
with a message that names the right one.
"""

import re
from pathlib import Path

import pytest
from django.core.management import call_command

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
METRICS_TOKEN = "scrape-me-0123456789"
pytestmark = pytest.mark.django_db


@pytest.fixture
def api_token(alice, capsys) -> str:
    call_command("createapitoken", "alice")
    return capsys.readouterr().out.strip()


def test_readme_documents_bearer_for_metrics_and_token_for_the_api():
    assert "`Authorization: Token <token>`" in README
    assert re.search(r"`METRICS_TOKEN` \| empty \| bearer token", README)
    # Prometheus' scrape config in the README: `authorization` without `type` is Bearer.
    scrape = README[README.index("scrape_configs:") :].split("```")[0]
    assert "credentials: <METRICS_TOKEN>" in scrape and "type:" not in scrape


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_metrics_accepts_the_documented_bearer_scheme_in_any_case(client, settings, scheme):
    settings.METRICS_TOKEN = METRICS_TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"{scheme} {METRICS_TOKEN}").status_code == 200


def test_metrics_refuses_the_apis_token_scheme_naming_bearer(client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Token {METRICS_TOKEN}")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.content.decode()


@pytest.mark.parametrize("scheme", ["Token", "token"])
def test_api_accepts_the_documented_token_scheme_in_any_case(client, api_token, scheme):
    assert client.get("/api/appointments/", HTTP_AUTHORIZATION=f"{scheme} {api_token}").status_code == 200


def test_api_refuses_a_bearer_token_naming_the_token_scheme(client, api_token):
    response = client.get("/api/appointments/", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    # 403, not 401: DRF answers 401 only when its first authentication (here the session) names a
    # WWW-Authenticate scheme; the same as for a wrong token (test_api_appointments).
    assert response.status_code == 403
    assert "Authorization: Token <token>" in response.json()["detail"]
