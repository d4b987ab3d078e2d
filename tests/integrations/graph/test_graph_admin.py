"""Setting up a Microsoft 365 connection: the admin form, the model's checks, "test connection" and the
add_connection command, against the local Graph server."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from integrations import services
from integrations.models import Connection

from .conftest import ALICE, CLIENT_ID, SECRET, TENANT

pytestmark = pytest.mark.django_db

ADD = "/admin/integrations/connection/add/"


def graph_form(**fields) -> dict:
    return {
        "name": "Microsoft 365",
        "kind": "graph",
        "server_url": "",
        "username": CLIENT_ID,
        "secret": SECRET,
        "options": "{}",
        "is_active": "on",
        "graph_tenant_id": TENANT,
        "graph_authority": "",
    } | fields


def test_graph_form_keeps_tenant_and_authority_in_options_and_the_secret_encrypted(admin_client):
    response = admin_client.post(ADD, graph_form(graph_authority=f"https://login.microsoftonline.us/{TENANT}"))

    assert response.status_code == 302, response.content.decode()
    connection = Connection.objects.get()
    assert connection.options == {"tenant_id": TENANT, "authority": f"https://login.microsoftonline.us/{TENANT}"}
    assert connection.server_url == "https://graph.microsoft.com/v1.0"
    assert connection.get_secret() == SECRET and SECRET not in connection.secret_encrypted
    page = admin_client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert SECRET not in page and connection.secret_encrypted not in page
    assert "connection-kind-graph" in page and TENANT in page


def test_graph_form_refuses_a_missing_tenant_and_secret(admin_client):
    response = admin_client.post(ADD, graph_form(graph_tenant_id="", secret=""))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Directory (tenant) ID" in page and "client secret" in page
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    "options, username, url, message",
    [
        ({}, CLIENT_ID, "", "tenant_id"),
        ({"tenant_id": "not a tenant"}, CLIENT_ID, "", "tenant_id"),
        ({"tenant_id": TENANT}, "", "", r"Application \(client\) ID"),
        ({"tenant_id": TENANT, "authority": "http://login.example.com/x"}, CLIENT_ID, "", "https://"),
        ({"tenant_id": TENANT}, CLIENT_ID, "http://graph.example.com/v1.0", "https://"),
    ],
)
def test_graph_connection_checks_its_settings(options, username, url, message):
    connection = Connection(name="M365", kind="graph", username=username, server_url=url, options=options)

    with pytest.raises(ValidationError, match=message):
        connection.full_clean()


def test_add_connection_command_saves_and_tests_a_graph_connection(graph, capsys, monkeypatch):
    monkeypatch.setenv("CONNECTION_SECRET", SECRET)
    call_command(
        "add_connection",
        "Microsoft 365",
        "--kind=graph",
        f"--url={graph.base_url}",
        f"--tenant-id={TENANT}",
        f"--client-id={CLIENT_ID}",
        f"--authority={graph.authority}",
        f"--ca-bundle={graph.ca_path}",
        f"--test-mailbox={ALICE}",
    )

    connection = Connection.objects.get()
    assert (connection.kind, connection.username, connection.get_secret()) == ("graph", CLIENT_ID, SECRET)
    assert "through it, alice@example.com's calendar opens (application permission)" in capsys.readouterr().out


def test_add_connection_command_says_what_a_wrong_secret_needs(graph, monkeypatch):
    monkeypatch.setenv("CONNECTION_SECRET", "the-secret-id-not-its-value")
    with pytest.raises(CommandError, match=r"\[AADSTS7000215\]"):
        call_command(
            "add_connection",
            "Microsoft 365",
            "--kind=graph",
            f"--url={graph.base_url}",
            f"--tenant-id={TENANT}",
            f"--client-id={CLIENT_ID}",
            f"--authority={graph.authority}",
            f"--ca-bundle={graph.ca_path}",
        )


def test_graph_options_are_refused_for_other_kinds():
    with pytest.raises(CommandError, match="only apply to --kind graph"):
        call_command("add_connection", "Nextcloud", "--url=https://cloud.example.com/", f"--tenant-id={TENANT}")


def test_connecting_a_technician_finds_their_default_calendar(graph_connection, alice, graph):
    agent_calendar = services.connect_agent(alice, connection=graph_connection)

    assert agent_calendar.calendar_id == graph.mailboxes[ALICE].calendar_id


def test_graph_form_turns_on_the_technicians_own_sign_in(admin_client):
    response = admin_client.post(ADD, graph_form(graph_delegated="on"))

    assert response.status_code == 302, response.content.decode()
    assert Connection.objects.get().options == {"tenant_id": TENANT, "delegated": True}
