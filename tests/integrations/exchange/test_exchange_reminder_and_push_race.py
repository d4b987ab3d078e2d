"""Trial faults 8 and 1 on Exchange (the EWS peer, tests/peers/ews.py): a reminder the technician
changed in Outlook (ReminderMinutesBeforeStart 15 -> 45) is kept over a later helpdesk change of
another field, the helpdesk's own new reminder is written, alone or with another field; and a
helpdesk change made while the push of an earlier one is in flight reaches Outlook at once (the
`SyncLink.changes` compare-and-set), without a conflict. What Outlook holds is read from the peer's
own state (EWS CalendarItem ReminderIsSet / ReminderMinutesBeforeStart)."""

from __future__ import annotations

from datetime import UTC

import pytest

from tests.integrations.reminder_and_race import (
    REMINDER_CASES,
    REMINDER_IDS,
    a_helpdesk_entry_s_alarm_removed_there_stays_removed,
    a_reminder_changed_there_is_taken,
    a_reminder_removed_in_the_helpdesk_goes_out,
    an_alarm_removed_there_is_taken,
    change_after_a_reminder_edited_there,
    give_back_while_its_removal_is_pushed,
    move_while_a_rename_is_pushed,
)
from tests.integrations.series import HOUR

from .conftest import ALICE


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "expected"), REMINDER_CASES, ids=REMINDER_IDS)
def test_a_reminder_changed_in_outlook_is_kept_unless_the_helpdesk_changes_its_own(
    changes, expected, alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    def outlook_edit(item_id: str, minutes: int) -> None:
        assert (ews.item(ALICE, item_id).reminder_is_set, ews.item(ALICE, item_id).reminder_minutes) == (True, 15)
        ews.outlook_update(ALICE, item_id, reminder_minutes=minutes)

    change_after_a_reminder_edited_there(
        alice_exchange, tomorrow_9, django_capture_on_commit_callbacks, changes, outlook_edit
    )

    (item,) = ews.items(ALICE)
    assert (item.subject, item.reminder_is_set, item.reminder_minutes) == (expected[0], True, expected[1])


@pytest.mark.django_db
def test_a_reminder_changed_on_the_phone_is_taken_by_the_helpdesk(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    def outlook_edit(item_id: str, minutes: int) -> None:
        ews.outlook_update(ALICE, item_id, reminder_minutes=minutes)

    a_reminder_changed_there_is_taken(alice_exchange, tomorrow_9, django_capture_on_commit_callbacks, outlook_edit)

    (item,) = ews.items(ALICE)
    assert (item.reminder_is_set, item.reminder_minutes) == (True, 30)


@pytest.mark.django_db
def test_an_alarm_removed_on_the_phone_leaves_the_helpdesk_entry_without_reminder(alice_exchange, ews, tomorrow_9):
    def make_there() -> None:
        ews.outlook_create(
            ALICE, subject="Dentist", start=tomorrow_9, end=tomorrow_9 + HOUR, reminder_is_set=True, reminder_minutes=30
        )

    an_alarm_removed_there_is_taken(
        alice_exchange, make_there, lambda item_id: ews.outlook_update(ALICE, item_id, reminder_is_set=False)
    )

    (item,) = ews.items(ALICE)
    assert not item.reminder_is_set


@pytest.mark.django_db(transaction=True)
def test_a_move_made_while_a_rename_is_pushed_reaches_outlook_at_once(alice_exchange, ews, tomorrow_9):
    def hook(callback) -> None:
        ews.before_request = callback

    moved = move_while_a_rename_is_pushed(
        alice_exchange.agent, tomorrow_9, hook, lambda operation: operation == "UpdateItem"
    )

    (item,) = ews.items(ALICE)
    assert item.subject == "Race renamed"
    assert (item.start, item.end) == (moved.astimezone(UTC), (moved + HOUR).astimezone(UTC))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("away_again", [False, True], ids=["given back", "given back and away again"])
def test_an_entry_given_back_while_its_removal_is_pushed_follows_the_helpdesk(
    away_again, alice_exchange, bob, ews, tomorrow_9
):
    """Task push 3 on Exchange: the entry given back while its DeleteItem was in flight is made
    again; given away again, it stays gone."""

    def hook(callback) -> None:
        ews.before_request = callback

    give_back_while_its_removal_is_pushed(
        alice_exchange.agent, bob, tomorrow_9, hook, lambda operation: operation == "DeleteItem", away_again=away_again
    )

    assert [item.subject for item in ews.items(ALICE)] == ([] if away_again else ["Race"])


@pytest.mark.django_db
def test_an_alarm_removed_in_outlook_from_a_helpdesk_entry_stays_removed_while_a_default_is_set(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    def outlook_edit(item_id: str) -> None:
        assert (ews.item(ALICE, item_id).reminder_is_set, ews.item(ALICE, item_id).reminder_minutes) == (True, 15)
        ews.outlook_update(ALICE, item_id, reminder_is_set=False)

    a_helpdesk_entry_s_alarm_removed_there_stays_removed(
        alice_exchange, tomorrow_9, django_capture_on_commit_callbacks, outlook_edit
    )

    (item,) = ews.items(ALICE)
    assert (item.subject, item.reminder_is_set) == ("Boiler check (gas)", False)


@pytest.mark.django_db
def test_a_reminder_removed_in_the_helpdesk_turns_the_outlook_reminder_off(
    alice_exchange, ews, tomorrow_9, django_capture_on_commit_callbacks
):
    a_reminder_removed_in_the_helpdesk_goes_out(alice_exchange, tomorrow_9, django_capture_on_commit_callbacks)

    (item,) = ews.items(ALICE)
    assert (item.subject, item.reminder_is_set) == ("Boiler check (gas)", False)
