"""Trial fault 2 on Exchange (the EWS peer, tests/peers/ews.py): an occurrence of alice's series given
to bob, who is not on the series, reaches bob's calendar as a single item of his own and leaves alice's
series (a deleted occurrence); given back, bob's item goes and alice's series shows it again, once.
What Outlook shows is the peer's own calendar view."""

from __future__ import annotations

import pytest

from calendars import services as calendar_services
from tests.integrations.series import series_to_give_away

from .conftest import ALICE

BOB = "bob@example.com"

pytestmark = pytest.mark.django_db


def test_an_occurrence_given_to_bob_is_a_single_item_in_his_exchange_calendar_and_goes_back(
    alice_exchange, bob, ews_connection, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    alice = alice_exchange.agent
    given = series_to_give_away(alice, bob, ews_connection, tomorrow_9, django_capture_on_commit_callbacks)
    second, window, every = given.occurrences[1], given.window, given.starts

    def starts(mailbox: str) -> list:
        return sorted(shown.start for shown in ews.calendar_view(mailbox, *window))

    assert starts(ALICE) == every
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(second, from_agent=alice, to_agent=bob)
    assert starts(ALICE) == [start for start in every if start != second.start]
    assert [(shown.kind, shown.start) for shown in ews.calendar_view(BOB, *window)] == [("Single", second.start)]

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.reassign_appointment(second, from_agent=bob, to_agent=alice)
    assert starts(BOB) == []
    assert starts(ALICE) == every
