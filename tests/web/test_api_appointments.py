import hashlib
from datetime import timedelta

from django.core.management import call_command
from knox.models import AuthToken

from calendars.models import Appointment
from tests.web.conftest import at

LIST = "/api/appointments/"
WEEK = {"start": "2026-03-02T00:00:00+01:00", "end": "2026-03-09T00:00:00+01:00"}


def test_list_filters_by_window_and_agent(api_client, alice, bob, alices_appointment, bobs_appointment):
    response = api_client(alice.user).get(LIST, {**WEEK, "agent": [bob.pk]})
    assert response.status_code == 200
    assert [item["subject"] for item in response.json()["results"]] == ["Bob's job"]


def test_list_filters_by_repeated_agent_and_team(
    api_client, make_agent, alice, bob, alices_appointment, bobs_appointment
):
    carol = make_agent("carol", team="Desk")
    client = api_client(alice.user)
    both = client.get(LIST, {**WEEK, "agent": [alice.pk, bob.pk]}).json()["results"]
    assert {item["subject"] for item in both} == {"Visit Acme", "Bob's job"}
    team = carol.teams.get()
    team.members.add(bob)
    assert [i["subject"] for i in client.get(LIST, {**WEEK, "team": team.pk}).json()["results"]] == ["Bob's job"]


def test_list_leaves_out_entries_outside_the_window(api_client, alice, alices_appointment):
    response = api_client(alice.user).get(LIST, {"start": "2026-03-03T00:00:00Z", "end": "2026-03-04T00:00:00Z"})
    assert response.json()["results"] == []


def test_list_filters_by_source_and_request(api_client, alice, ticket, alices_appointment):
    client = api_client(alice.user)
    ticket.planned_start = at(4, 9)
    from tickets import services

    services.update_request(ticket, planned_start=at(4, 9))
    planned = client.get(LIST, {"source": "planned"}).json()["results"]
    assert [item["request"] for item in planned] == [ticket.pk]
    assert client.get(LIST, {"request": ticket.pk}).json()["results"][0]["source"] == "planned"


def test_bad_filter_is_a_json_field_error(api_client, alice):
    response = api_client(alice.user).get(LIST, {"start": "yesterday-ish"})
    assert response.status_code == 400
    assert "start" in response.json()


def test_anonymous_cannot_read(client, alices_appointment):
    assert client.get(LIST).status_code in (401, 403)


def test_private_external_entry_shows_only_busy_time(api_client, coordinator, alice, private_external):
    for user in (coordinator, alice.user):
        item = api_client(user).get(f"{LIST}{private_external.pk}/").json()
        assert item["subject"] == "Data unavailable"
        assert item["note"] == "" and item["location"] == "" and item["other_attendees"] == []
        assert item["data_unavailable"] is True and item["busy"] is True and item["can_edit"] is False
        listed = api_client(user).get(LIST, WEEK).content.decode()
        assert "Doctor" not in listed and "Secret" not in listed and "Hospital" not in listed


def test_private_external_entry_cannot_be_changed_even_by_a_coordinator(api_client, coordinator, private_external):
    client = api_client(coordinator)
    assert client.patch(f"{LIST}{private_external.pk}/", {"subject": "x"}, format="json").status_code == 403
    assert client.delete(f"{LIST}{private_external.pk}/").status_code == 403


def test_technician_creates_on_own_calendar(api_client, alice):
    response = api_client(alice.user).post(
        LIST,
        {
            "subject": "Lunch",
            "start": "2026-03-02T12:00:00+01:00",
            "end": "2026-03-02T13:00:00+01:00",
            "agents": [alice.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert appointment.created_by == alice.user and list(appointment.agents.all()) == [alice]


def test_technician_cannot_create_on_someone_elses_calendar(api_client, alice, bob):
    response = api_client(alice.user).post(
        LIST,
        {"subject": "For Bob", "start": "2026-03-02T12:00:00Z", "end": "2026-03-02T13:00:00Z", "agents": [bob.pk]},
        format="json",
    )
    assert response.status_code == 403
    assert not Appointment.objects.exists()


def test_technician_plans_a_colleague_assigned_to_their_request(api_client, alice, bob, ticket):
    # Only the request's own technicians: anyone else is the coordinators' (review fault 1).
    ticket.assigned_agents.add(alice, bob)
    response = api_client(alice.user).post(
        LIST,
        {
            "subject": "Together",
            "start": "2026-03-02T12:00:00Z",
            "end": "2026-03-02T13:00:00Z",
            "agents": [alice.pk, bob.pk],
            "request": ticket.pk,
        },
        format="json",
    )
    assert response.status_code == 201


def test_technician_moves_own_appointment(api_client, alice, alices_appointment):
    response = api_client(alice.user).patch(
        f"{LIST}{alices_appointment.pk}/",
        {"start": "2026-03-02T10:00:00+01:00", "end": "2026-03-02T11:30:00+01:00"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    alices_appointment.refresh_from_db()
    assert alices_appointment.start == at(2, 10) and alices_appointment.end == at(2, 11, 30)


def test_technician_cannot_change_or_delete_someone_elses(api_client, alice, bobs_appointment):
    client = api_client(alice.user)
    assert client.patch(f"{LIST}{bobs_appointment.pk}/", {"subject": "Mine"}, format="json").status_code == 403
    assert client.delete(f"{LIST}{bobs_appointment.pk}/").status_code == 403
    bobs_appointment.refresh_from_db()
    assert bobs_appointment.subject == "Bob's job"


def test_coordinator_changes_and_deletes_anyones(api_client, coordinator, bobs_appointment):
    client = api_client(coordinator)
    assert client.patch(f"{LIST}{bobs_appointment.pk}/", {"subject": "Moved"}, format="json").status_code == 200
    assert client.delete(f"{LIST}{bobs_appointment.pk}/").status_code == 204
    assert not Appointment.objects.filter(pk=bobs_appointment.pk).exists()


def test_reader_may_only_read(api_client, reader, alice, alices_appointment):
    client = api_client(reader)
    assert client.get(f"{LIST}{alices_appointment.pk}/").status_code == 200
    assert client.patch(f"{LIST}{alices_appointment.pk}/", {"subject": "x"}, format="json").status_code == 403
    assert client.delete(f"{LIST}{alices_appointment.pk}/").status_code == 403
    created = client.post(
        LIST,
        {"subject": "x", "start": "2026-03-02T12:00:00Z", "end": "2026-03-02T13:00:00Z", "agents": [alice.pk]},
        format="json",
    )
    assert created.status_code == 403


def test_end_before_start_is_a_field_error(api_client, alice):
    response = api_client(alice.user).post(
        LIST,
        {"subject": "x", "start": "2026-03-02T12:00:00Z", "end": "2026-03-02T11:00:00Z", "agents": [alice.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert "end" in response.json()


def test_reassign_moves_entry_to_another_technician(api_client, coordinator, alice, bob, alices_appointment):
    response = api_client(coordinator).post(
        f"{LIST}{alices_appointment.pk}/reassign/", {"from_agent": alice.pk, "to_agent": bob.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["agents"] == [bob.pk]


def test_reassign_onto_a_technician_already_on_it_is_refused_and_keeps_both(
    api_client, coordinator, alice, bob, alices_appointment
):
    # Trial 4: the swap would only have taken Alice off the entry.
    alices_appointment.agents.add(bob)
    response = api_client(coordinator).post(
        f"{LIST}{alices_appointment.pk}/reassign/", {"from_agent": alice.pk, "to_agent": bob.pk}, format="json"
    )
    assert response.status_code == 400
    assert f"{bob.name} is already on it." in str(response.json()["to_agent"])
    assert sorted(alices_appointment.agents.values_list("pk", flat=True)) == sorted([alice.pk, bob.pk])


def test_moving_a_planned_appointment_replans_its_request(api_client, alice, ticket):
    from tickets import services

    services.update_request(ticket, planned_start=at(4, 9), estimate=timedelta(hours=1))
    planned = ticket.appointments.get()
    api_client(alice.user).patch(
        f"{LIST}{planned.pk}/",
        {"start": "2026-03-05T13:00:00+01:00", "end": "2026-03-05T15:00:00+01:00"},
        format="json",
    )
    ticket.refresh_from_db()
    assert ticket.planned_start == at(5, 13) and ticket.estimate == timedelta(hours=2)


def test_planned_today_has_its_own_colour(api_client, alice, ticket, calendar_settings):
    from django.utils import timezone

    from tickets import services

    services.update_request(ticket, planned_start=timezone.now().replace(microsecond=0))
    item = api_client(alice.user).get(LIST, {"source": "planned"}).json()["results"][0]
    assert item["colour"] == calendar_settings.planned_today_colour != alice.colour


def test_agent_colour_on_other_entries(api_client, alice, alices_appointment):
    item = api_client(alice.user).get(f"{LIST}{alices_appointment.pk}/").json()
    assert item["colour"] == alice.colour


def test_recurring_filter_keeps_only_series(api_client, alice, alices_appointment):
    from calendars import services

    services.create_recurring_appointment(
        rule="FREQ=DAILY;COUNT=3", subject="Stand-up", start=at(2, 8), end=at(2, 8, 15), agents=[alice], now=at(1, 0)
    )
    items = api_client(alice.user).get(LIST, {**WEEK, "recurring": "true"}).json()["results"]
    assert [item["subject"] for item in items] == ["Stand-up"] * 3
    assert all(item["is_recurring"] for item in items)


def test_token_authentication_works(alice, alices_appointment, client):
    _, token = AuthToken.objects.create(user=alice.user)
    response = client.get(LIST, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200


def test_createapitoken_prints_a_token_that_works_once_and_stores_only_its_hash(alice, client, capsys):
    call_command("createapitoken", "alice")
    printed = capsys.readouterr().out.strip()

    assert client.get(LIST, HTTP_AUTHORIZATION=f"Token {printed}").status_code == 200
    [stored] = AuthToken.objects.filter(user=alice.user)
    assert printed not in stored.digest
    assert stored.digest == hashlib.sha512(printed.encode()).hexdigest()
    # Nowhere in the database: dump every table's rows and look for it.
    assert printed not in _database_text()


def test_createapitoken_renew_revokes_the_old_token(alice, client, capsys):
    call_command("createapitoken", "alice")
    old = capsys.readouterr().out.strip()
    call_command("createapitoken", "alice", "--renew")
    new = capsys.readouterr().out.strip()

    assert client.get(LIST, HTTP_AUTHORIZATION=f"Token {old}").status_code in (401, 403)
    assert client.get(LIST, HTTP_AUTHORIZATION=f"Token {new}").status_code == 200


def test_api_tokens_kept_in_clear_before_are_moved_hashed_and_keep_working(alice, client):
    import importlib

    from django.apps import apps
    from django.db import connection

    move = importlib.import_module("tickets.migrations.0002_move_api_tokens_to_knox")
    old_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, created varchar(40))"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, '2026-01-01')", [old_key, alice.user.pk])

    class Editor:  # the two things the migration uses of a schema editor
        def __init__(self):
            self.connection = connection

        def execute(self, sql):
            with connection.cursor() as cursor:
                cursor.execute(sql)

    move.move_tokens(apps, Editor())

    assert "authtoken_token" not in connection.introspection.table_names()
    assert old_key not in _database_text()
    assert client.get(LIST, HTTP_AUTHORIZATION=f"Token {old_key}").status_code == 200


def _database_text() -> str:
    from django.db import connection

    text = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            text.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(text)


def test_schema_and_docs_are_served(client, alice):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/appointments/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"cdn.jsdelivr" not in docs.content and b"swagger-ui" in docs.content
