"""Trial faults 1 and 2 on Microsoft 365 (the Graph peer, tests/peers/graph.py): a helpdesk change
made while the push of an earlier one is in flight reaches Outlook at once, without a conflict; an
occurrence given to a technician not on the series reaches their calendar as a one-off entry and
leaves it again when given back. What Outlook holds is read from the peer's own state."""

from __future__ import annotations

from datetime import UTC

import pytest

from calendars import services as calendar_services
from tests.integrations.reminder_and_race import give_back_while_its_removal_is_pushed, move_while_a_rename_is_pushed
from tests.integrations.series import HOUR, series_to_give_away

from .conftest import ALICE

BOB = "bob@example.com"


@pytest.mark.django_db(transaction=True)
def test_a_move_made_while_a_rename_is_pushed_reaches_outlook_at_once(alice_graph, graph, tomorrow_9):
    def hook(callback) -> None:
        graph.before_request = callback

    def is_the_write(method: str, path: str) -> bool:
        # The rename's write: a PATCH, or a $batch holding it.
        return method in ("PATCH", "POST") and (path == "/v1.0/$batch" or "/events/" in path)

    moved = move_while_a_rename_is_pushed(alice_graph.agent, tomorrow_9, hook, is_the_write)

    (event,) = graph.events(ALICE)
    assert event["subject"] == "Race renamed"
    assert (event["_start"], event["_end"]) == (moved.astimezone(UTC), (moved + HOUR).astimezone(UTC))


@pytest.mark.django_db
def test_an_occurrence_given_to_another_technician_goes_to_their_outlook_and_back(
    alice_graph, bob, graph_connection, graph, tomorrow_9, django_capture_on_commit_callbacks
):
    alice = alice_graph.agent
    given = series_to_give_away(alice, bob, graph_connection, tomorrow_9, django_capture_on_commit_callbacks)
    occurrences, window, every = given.occurrences, given.window, given.starts
    second = occurrences[1].start.astimezone(UTC)

    def starts(address: str) -> list:
        return [e["_start"] for e in graph.calendar_view(address, *window)]

    assert starts(ALICE) == every
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(occurrences[1], from_agent=alice, to_agent=bob)
    assert starts(ALICE) == [start for start in every if start != second]
    assert starts(BOB) == [second]
    assert [event.get("type", "singleInstance") for event in graph.events(BOB)] == ["singleInstance"]

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(occurrences[1], from_agent=bob, to_agent=alice)
    assert starts(BOB) == []
    assert starts(ALICE) == every
    assert len(graph.events(ALICE)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("away_again", [False, True], ids=["given back", "given back and away again"])
def test_an_entry_given_back_while_its_removal_is_pushed_follows_the_helpdesk(
    away_again, alice_graph, bob, graph, tomorrow_9
):
    """Task push 3 on Microsoft 365: the entry given back while its delete (alone or in a $batch)
    was in flight is made again; given away again, it stays gone."""

    def hook(callback) -> None:
        graph.before_request = callback

    def is_the_delete(method: str, path: str) -> bool:
        return (method == "DELETE" and "/events/" in path) or (method == "POST" and path == "/v1.0/$batch")

    give_back_while_its_removal_is_pushed(
        alice_graph.agent, bob, tomorrow_9, hook, is_the_delete, away_again=away_again
    )

    assert [event["subject"] for event in graph.events(ALICE)] == ([] if away_again else ["Race"])
