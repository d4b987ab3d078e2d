"""A technician's Exchange calendar other than the default Calendar, named by the admin: found by its
display name with FindFolder (MS-OXWSFLDR), synced both ways, refused clearly when the name finds no
calendar folder or several. Expected values: the local Exchange server's own folders and views."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations import services
from integrations.providers.base import ConnectionProblem
from integrations.sync import engine

from .conftest import ALICE

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def test_a_named_calendar_folder_is_synced_instead_of_the_default_one(alice, ews_connection, ews, tomorrow_9):
    rota = ews.add_calendar_folder(ALICE, "Support rota")
    ews.outlook_create(ALICE, subject="Dentist", start=tomorrow_9, end=tomorrow_9 + HOUR)
    ews.outlook_create(ALICE, subject="Rota shift", start=tomorrow_9, end=tomorrow_9 + HOUR, folder=rota)
    alice.import_external = True
    alice.save()

    # Exchange compares display names in a Restriction without regard to case.
    agent_calendar = services.connect_agent(alice, connection=ews_connection, calendar="support ROTA")
    engine.sync_agent_calendar(agent_calendar, pull=True)
    calendar_services.create_appointment(
        agents=[alice], start=tomorrow_9 + 3 * HOUR, end=tomorrow_9 + 4 * HOUR, subject="Printer repair"
    )
    engine.sync_agent_calendar(agent_calendar, pull=True)

    assert agent_calendar.calendar_id == rota
    window = (tomorrow_9 - HOUR, tomorrow_9 + 5 * HOUR)
    assert [o.subject for o in ews.calendar_view(ALICE, *window, folder=rota)] == ["Rota shift", "Printer repair"]
    assert [o.subject for o in ews.calendar_view(ALICE, *window)] == ["Dentist"]
    assert sorted(Appointment.objects.values_list("subject", flat=True)) == ["Printer repair", "Rota shift"]


def test_a_calendar_name_no_folder_has_is_refused_saying_what_to_check(alice, ews_connection, ews):
    ews.add_calendar_folder(ALICE, "Support rota")

    with pytest.raises(ConnectionProblem) as refused:
        services.connect_agent(alice, connection=ews_connection, calendar="Support roster")

    # The mailbox's calendar folders are named, the default one first.
    assert str(refused.value) == (
        "No calendar of the mailbox alice@example.com is called 'Support roster': its calendars are 'Calendar', "
        "'Support rota'. Give one of these names (case does not matter), or leave the name empty for the default "
        "calendar."
    )


def test_a_calendar_name_two_folders_have_is_refused(alice, ews_connection, ews):
    ews.add_calendar_folder(ALICE, "Rota")
    ews.add_calendar_folder(ALICE, "rota", under=ews.add_calendar_folder(ALICE, "Team calendars"))

    with pytest.raises(ConnectionProblem) as refused:
        services.connect_agent(alice, connection=ews_connection, calendar="Rota")

    assert "2 calendars of the mailbox alice@example.com match 'Rota' ('Rota', 'rota')" in str(refused.value)


def test_the_connection_test_names_the_calendar_it_found_and_refuses_one_gone(alice, ews_connection, ews):
    rota = ews.add_calendar_folder(ALICE, "Support rota")
    agent_calendar = services.connect_agent(alice, connection=ews_connection, calendar="Support rota")

    message = services.test_connection(ews_connection)

    assert message.endswith("calendar opens by impersonation; Alice's linked calendar 'Support rota' is found.")
    assert agent_calendar.calendar_id == rota
    ews.add_calendar_folder(ALICE, "Support rota")  # a second folder of that name: the name is no longer enough
    with pytest.raises(ConnectionProblem, match=r"2 calendars of the mailbox alice@example\.com match 'Support rota'"):
        services.test_connection(ews_connection)


def test_a_calendar_name_is_matched_by_case_folding_with_one_folder_listing(provider, ews):
    # Unicode case folding (str.casefold, Unicode 3.13) makes "STRASSE" and "Straße" one name; one
    # FindFolder lists the mailbox's calendar folders, and the shared chooser picks among them.
    street = ews.add_calendar_folder(ALICE, "Straße")
    before = len(ews.requests)

    found = provider.find_calendar(ALICE, "STRASSE")

    assert found.calendar_id == street
    assert ews.requests[before:].count("FindFolder") == 1


def test_a_second_folder_named_as_the_default_calendar_makes_the_name_refused(alice, ews_connection, ews):
    ews.add_calendar_folder(ALICE, "CALENDAR", under=ews.add_calendar_folder(ALICE, "Team calendars"))

    with pytest.raises(ConnectionProblem, match=r"2 calendars of the mailbox alice@example\.com match 'calendar'"):
        services.connect_agent(alice, connection=ews_connection, calendar="calendar")
