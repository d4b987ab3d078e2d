"""Trial faults 8 and 1 on Google Calendar (the Google peer, tests/peers/google.py): a reminder the
technician changed on her phone (the popup override 15 -> 45 minutes) is kept over a later helpdesk
change of another field, the helpdesk's own new reminder is written, alone or with another field;
and a helpdesk change made while the push of an earlier one is in flight reaches Google at once
(the `SyncLink.changes` compare-and-set), without a conflict. What Google holds is read from the
peer's own state (Events resource: reminders.useDefault / reminders.overrides[{method, minutes}])."""

from __future__ import annotations

from datetime import UTC, datetime

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


def _popup(minutes: int) -> dict:
    return {"useDefault": False, "overrides": [{"method": "popup", "minutes": minutes}]}


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "expected"), REMINDER_CASES, ids=REMINDER_IDS)
def test_a_reminder_changed_on_the_phone_is_kept_unless_the_helpdesk_changes_its_own(
    changes, expected, alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    def phone_edit(event_id: str, minutes: int) -> None:
        assert google.event(ALICE, event_id)["reminders"] == _popup(15)
        google.phone_patch(ALICE, event_id, reminders=_popup(minutes))

    change_after_a_reminder_edited_there(
        alice_google, tomorrow_9, django_capture_on_commit_callbacks, changes, phone_edit
    )

    (event,) = google.events(ALICE)
    assert (event["summary"], event["reminders"]) == (expected[0], _popup(expected[1]))


@pytest.mark.django_db
def test_a_reminder_changed_on_the_phone_is_taken_by_the_helpdesk(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    def phone_edit(event_id: str, minutes: int) -> None:
        google.phone_patch(ALICE, event_id, reminders=_popup(minutes))

    a_reminder_changed_there_is_taken(alice_google, tomorrow_9, django_capture_on_commit_callbacks, phone_edit)

    (event,) = google.events(ALICE)
    assert event["reminders"] == _popup(30)


@pytest.mark.django_db
def test_an_alarm_removed_on_the_phone_leaves_the_helpdesk_entry_without_reminder(alice_google, google, tomorrow_9):
    def make_there() -> None:
        google.phone_insert(
            ALICE,
            summary="Dentist",
            start={"dateTime": tomorrow_9.isoformat(), "timeZone": "Europe/Amsterdam"},
            end={"dateTime": (tomorrow_9 + HOUR).isoformat(), "timeZone": "Europe/Amsterdam"},
            reminders=_popup(30),
        )

    def remove_alarm(event_id: str) -> None:
        google.phone_patch(ALICE, event_id, reminders={"useDefault": False, "overrides": []})

    an_alarm_removed_there_is_taken(alice_google, make_there, remove_alarm)

    (event,) = google.events(ALICE)
    assert event["reminders"] == {"useDefault": False, "overrides": []}


@pytest.mark.django_db(transaction=True)
def test_a_move_made_while_a_rename_is_pushed_reaches_google_at_once(alice_google, google, tomorrow_9):
    def hook(callback) -> None:
        google.before_request = callback

    def is_the_write(method: str, path: str) -> bool:
        # The rename's write: a PATCH or PUT of the event, or a batch holding it.
        return method in ("PATCH", "PUT", "POST") and (path.startswith("/batch") or "/events/" in path)

    moved = move_while_a_rename_is_pushed(alice_google.agent, tomorrow_9, hook, is_the_write)

    (event,) = google.events(ALICE)
    assert event["summary"] == "Race renamed"
    start = datetime.fromisoformat(event["start"]["dateTime"]).astimezone(UTC)
    end = datetime.fromisoformat(event["end"]["dateTime"]).astimezone(UTC)
    assert (start, end) == (moved.astimezone(UTC), (moved + HOUR).astimezone(UTC))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("away_again", [False, True], ids=["given back", "given back and away again"])
def test_an_entry_given_back_while_its_removal_is_pushed_follows_the_helpdesk(
    away_again, alice_google, bob, google, tomorrow_9
):
    """Task push 3 on Google: the entry given back while its delete (alone or in a batch) was in
    flight is made again; given away again, it stays gone."""

    def hook(callback) -> None:
        google.before_request = callback

    def is_the_delete(method: str, path: str) -> bool:
        return method == "DELETE" or (method == "POST" and path.startswith("/batch"))

    give_back_while_its_removal_is_pushed(
        alice_google.agent, bob, tomorrow_9, hook, is_the_delete, away_again=away_again
    )

    assert [event["summary"] for event in google.events(ALICE)] == ([] if away_again else ["Race"])


@pytest.mark.django_db
def test_an_alarm_removed_on_the_phone_from_a_helpdesk_entry_stays_removed_while_a_default_is_set(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    def remove_alarm(event_id: str) -> None:
        assert google.event(ALICE, event_id)["reminders"] == _popup(15)
        google.phone_patch(ALICE, event_id, reminders={"useDefault": False, "overrides": []})

    a_helpdesk_entry_s_alarm_removed_there_stays_removed(
        alice_google, tomorrow_9, django_capture_on_commit_callbacks, remove_alarm
    )

    (event,) = google.events(ALICE)
    assert event["summary"] == "Boiler check (gas)"
    assert event["reminders"]["useDefault"] is False
    assert not event["reminders"].get("overrides")


@pytest.mark.django_db
def test_a_reminder_removed_in_the_helpdesk_leaves_google_no_reminder_not_the_calendar_default(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    a_reminder_removed_in_the_helpdesk_goes_out(alice_google, tomorrow_9, django_capture_on_commit_callbacks)

    (event,) = google.events(ALICE)
    assert event["summary"] == "Boiler check (gas)"
    assert event["reminders"]["useDefault"] is False
    assert not event["reminders"].get("overrides")
