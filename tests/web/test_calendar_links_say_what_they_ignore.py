"""A calendar link with values the page cannot use (an old bookmark, a typo) still opens the
calendar, but says on the page what it ignored and what it shows instead (trial: the group
calendar quietly showed something else)."""

from html import unescape

import pytest

from agents.models import Team
from tests.web.test_pages_calendars import config_of

GROUP = "/calendar/group/"


def warnings_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize(
    ("query", "said", "key", "shown"),
    [
        ({"date": "2026-02-30"}, 'date "2026-02-30" is not a day written YYYY-MM-DD', None, None),
        ({"layout": "stacked"}, 'layout "stacked" is not one of columns, rows, grid', "layout", "columns"),
        ({"days": "many"}, 'days "many" is not a whole number', "days", 1),
        ({"days": "90"}, 'days "90" is not from 1 to 31, so the calendar shows 31', "days", 31),
        ({"slot": "7"}, 'slot "7" is not one of 5, 10, 15, 30, 60, so the calendar shows 30', "slotMinutes", 30),
        ({"free": "45"}, 'free "45" is not one of 0, 30, 60', "freeMinutes", 0),
    ],
)
def test_group_calendar_says_which_link_value_it_ignored(page_client, coordinator, alice, query, said, key, shown):
    response = page_client(coordinator).get(GROUP, query)

    assert response.status_code == 200
    [warning] = warnings_of(response)
    assert said in warning
    if key:
        assert config_of(response)[key] == shown
    assert said in unescape(response.content.decode())  # on the page, where the person reads it


def test_group_calendar_names_an_unknown_team(page_client, coordinator, alice, bob):
    response = page_client(coordinator).get(GROUP, {"team": 999})

    [warning] = warnings_of(response)
    assert warning == 'The link\'s team "999" is no team, so the calendar shows every technician.'
    assert {resource["id"] for resource in config_of(response)["resources"]} == {alice.pk, bob.pk}


def test_group_calendar_names_unknown_technicians_and_shows_the_others(page_client, coordinator, alice, bob):
    response = page_client(coordinator).get(GROUP, {"agent": [alice.pk, 998, 999]})

    [warning] = warnings_of(response)
    assert warning == (
        "No technician ids 998, 999 among the active technicians: left out, so the calendar shows the others chosen."
    )
    assert [resource["id"] for resource in config_of(response)["resources"]] == [alice.pk]


def test_group_calendar_with_only_unknown_technicians_shows_everyone_and_says_so(page_client, coordinator, alice, bob):
    response = page_client(coordinator).get(GROUP, {"agent": [999]})

    [warning] = warnings_of(response)
    assert "No technician id 999 among the active technicians" in warning
    assert warning.endswith("so the calendar shows every technician.")
    assert {resource["id"] for resource in config_of(response)["resources"]} == {alice.pk, bob.pk}


def test_group_calendar_names_a_technician_not_in_the_team(page_client, coordinator, alice, bob):
    team = Team.objects.create(name="Field")
    team.members.add(alice)

    response = page_client(coordinator).get(GROUP, {"team": team.pk, "agent": [alice.pk, bob.pk]})

    [warning] = warnings_of(response)
    assert warning == f"No technician id {bob.pk} in team Field: left out, so the calendar shows the others chosen."


def test_group_calendar_with_good_values_says_nothing(page_client, coordinator, alice):
    query = {"date": "2026-03-02", "layout": "rows", "days": "7", "slot": "15", "free": "60", "agent": [alice.pk]}

    response = page_client(coordinator).get(GROUP, query)

    assert warnings_of(response) == []
    assert config_of(response)["date"] == "2026-03-02"


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"view": "yearGrid"}, 'view "yearGrid" is not one of timeGridDay, timeGridWeek, dayGridMonth, listWeek'),
        ({"date": "yesterday"}, 'date "yesterday" is not a day written YYYY-MM-DD'),
    ],
)
def test_personal_calendar_says_which_link_value_it_ignored(page_client, alice, query, said):
    response = page_client(alice.user).get("/calendar/", query)

    [warning] = warnings_of(response)
    assert said in warning
