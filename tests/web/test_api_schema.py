"""schemathesis against /api/schema/: generated requests to every operation, as a coordinator
(who may write everything), find no server error and no response that breaks the schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis import checks

from calendars import services as calendar_services
from helpdesk.wsgi import application
from tests.web.conftest import at
from tickets import services as ticket_services

pytestmark = pytest.mark.slow

CHECKS = [checks.not_a_server_error, checks.response_schema_conformance, checks.content_type_conformance]


@pytest.fixture
def keep_connection():
    """Calls go straight to the WSGI app, which closes the database connection after each
    request; the test's transaction must outlive them (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def coordinator_token(keep_connection, coordinator, alice, bob, private_external) -> str:
    """Some data to read back: requests with actions, appointments, one private and imported."""
    ticket = ticket_services.create_request(summary="Printer", assigned_agents=[alice], planned_start=at(2, 9))
    ticket_services.log_action(ticket, agent=alice, done_at=at(2, 10), note="Done")
    calendar_services.create_appointment(subject="Visit", start=at(3, 9), end=at(3, 10), agents=[alice, bob])
    return AuthToken.objects.create(user=coordinator)[1]


# The schema view needs no database, so the schema loads at collection.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, coordinator_token):
    case.call_and_validate(headers={"Authorization": f"Token {coordinator_token}"}, checks=CHECKS)
