"""Setting up an Exchange connection: the admin form, "test connection" and the add_connection command."""

import pytest
from django.core.management import CommandError, call_command

from integrations.models import Connection

from .conftest import ALICE, PASSWORD, SERVICE_ACCOUNT

pytestmark = pytest.mark.django_db

ADD = "/admin/integrations/connection/add/"


def exchange_form(ews, **fields) -> dict:
    return {
        "name": "Exchange",
        "kind": "ews",
        "server_url": ews.url,
        "username": SERVICE_ACCOUNT,
        "secret": PASSWORD,
        "options": "{}",
        "is_active": "on",
        "ews_version": "2019",
        "ews_auth_type": "basic",
        "ews_access_type": "delegate",
        "ews_test_mailbox": "",
    } | fields


def test_exchange_form_keeps_its_settings_in_options_and_the_password_encrypted(admin_client, ews):
    response = admin_client.post(ADD, exchange_form(ews, secret="Winter-2031!"))

    assert response.status_code == 302, response.content.decode()
    connection = Connection.objects.get()
    assert connection.options == {"version": "2019", "auth_type": "basic", "access_type": "delegate"}
    assert connection.get_secret() == "Winter-2031!" and "Winter" not in connection.secret_encrypted
    page = admin_client.get(f"/admin/integrations/connection/{connection.pk}/change/").content.decode()
    assert "Winter" not in page and connection.secret_encrypted not in page
    assert 'value="2019" selected' in page
    assert "connection-kind-ews" in page


def test_exchange_form_keeps_the_stored_password_when_left_empty(admin_client, ews):
    admin_client.post(ADD, exchange_form(ews))
    connection = Connection.objects.get()

    admin_client.post(
        f"/admin/integrations/connection/{connection.pk}/change/", exchange_form(ews, secret="", ews_version="2016")
    )

    connection.refresh_from_db()
    assert (connection.option("version"), connection.get_secret()) == ("2016", PASSWORD)


def test_exchange_form_completes_a_bare_server_address(admin_client, ews):
    admin_client.post(ADD, exchange_form(ews, server_url="https://mail.example.com"))

    assert Connection.objects.get().server_url == "https://mail.example.com/EWS/Exchange.asmx"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"ews_version": "2003"}, "Select a valid choice"),
        ({"ews_auth_type": "kerberos"}, "Select a valid choice"),
        ({"secret": ""}, "Enter the account&#x27;s password"),
        ({"server_url": "", "username": "CONTOSO\\svc"}, "autodiscover"),
    ],
)
def test_exchange_form_refuses_what_cannot_work(admin_client, ews, fields, message):
    response = admin_client.post(ADD, exchange_form(ews, **fields))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Connection.objects.exists()


def test_caldav_form_still_keeps_its_own_options(admin_client):
    response = admin_client.post(
        ADD,
        {
            "name": "Nextcloud",
            "kind": "caldav",
            "server_url": "https://cloud.example.com/remote.php/dav/",
            "username": "helpdesk",
            "secret": "pw",
            "options": '{"calendar_home": "/{user}/"}',
            "is_active": "on",
            "ews_version": "2016",
            "ews_auth_type": "ntlm",
            "ews_access_type": "impersonation",
        },
    )

    assert response.status_code == 302
    assert Connection.objects.get().options == {"calendar_home": "/{user}/"}


def _test_action(admin_client, connection) -> str:
    response = admin_client.post(
        "/admin/integrations/connection/",
        {"action": "test_connection", "_selected_action": [connection.pk]},
        follow=True,
    )
    return response.content.decode()


def test_test_connection_checks_the_account_and_one_technicians_calendar(admin_client, alice_exchange, ews):
    page = _test_action(admin_client, alice_exchange.connection)

    assert (
        f"Signed in as the connection&#x27;s service account {SERVICE_ACCOUNT} on Exchange at {ews.url}; "
        f"through it, {ALICE}&#x27;s calendar opens by impersonation."
    ) in page


def test_test_connection_names_the_missing_impersonation_role(admin_client, alice_exchange, ews):
    ews.impersonators.clear()

    page = _test_action(admin_client, alice_exchange.connection)

    assert f"cannot impersonate {ALICE}: grant it the ApplicationImpersonation role" in page


def test_test_connection_says_the_password_is_wrong(admin_client, ews_connection):
    ews_connection.set_secret("wrong")
    ews_connection.save()

    assert "check the account name and password" in _test_action(admin_client, ews_connection)


def test_add_connection_command_sets_up_exchange(ews, alice, monkeypatch, capsys):
    monkeypatch.setenv("CONNECTION_SECRET", PASSWORD)

    call_command(
        "add_connection",
        "Exchange",
        "--kind=ews",
        f"--url={ews.url}",
        f"--username={SERVICE_ACCOUNT}",
        "--version=2016",
        "--auth-type=basic",
        "--access-type=impersonation",
        f"--test-mailbox={ALICE}",
    )

    connection = Connection.objects.get()
    assert connection.options == {
        "version": "2016",
        "auth_type": "basic",
        "access_type": "impersonation",
        "test_mailbox": ALICE,
    }
    assert connection.get_secret() == PASSWORD
    assert f"through it, {ALICE}'s calendar opens by impersonation" in capsys.readouterr().out


def test_add_connection_refuses_exchange_options_for_caldav(db):
    with pytest.raises(CommandError, match="only apply to --kind ews"):
        call_command("add_connection", "Nextcloud", "--url=https://cloud.example.com/", "--version=2016")


def test_connect_agent_command_ties_a_technician_to_their_exchange_calendar(ews_connection, alice, ews, capsys):
    call_command("connect_agent", "alice", "--connection=Exchange", "--import")

    agent_calendar = alice.external_calendars.get()
    assert agent_calendar.calendar_id == ews.mailboxes[ALICE].calendar_id
    assert "import on" in capsys.readouterr().out


def test_connect_agent_command_names_a_missing_mailbox(ews_connection, make_agent):
    nobody = make_agent("nobody")

    with pytest.raises(CommandError, match=r"no mailbox for nobody@example\.com"):
        call_command("connect_agent", nobody.user.username, "--connection=Exchange")
