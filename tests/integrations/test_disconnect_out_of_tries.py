"""Review F5: an admin's Disconnect whose worker task runs out of tries (the calendar held by another
run through every retry) is not dropped with a promise of a "next sync": the calendar is paused, so
no sync takes it up. The calendar shows the admin that it did not finish (its last error and an
ERROR line in its sync log), and Disconnect run again finishes it."""

import logging

import pytest

from integrations import services
from integrations.models import AgentCalendar, SyncLogEntry
from integrations.sync import engine
from integrations.tasks import BUSY_RETRIES, finish_disconnect
from tests.integrations.test_caldav_sync import make

pytestmark = pytest.mark.django_db


def test_a_disconnect_out_of_tries_shows_on_the_calendar_and_can_be_run_again(
    alice, alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks, retries, caplog
):
    make(alice, tomorrow_9, django_capture_on_commit_callbacks)
    assert len(alice_phone.entries()) == 1
    with django_capture_on_commit_callbacks(execute=False):  # the task is run below, by hand
        services.disconnect_agent_calendar(alice_calendar, remove_pushed=True, remove_imported=False)
    owner = engine.claim(alice_calendar)  # another run holds the calendar through every try

    with caplog.at_level(logging.WARNING, logger="integrations.tasks"):
        outcome = finish_disconnect.apply(args=(alice_calendar.pk, True), retries=BUSY_RETRIES, throw=False).get()

    assert outcome.startswith("not finished:") and "left for later" not in outcome, outcome
    assert retries == []  # out of tries: no further retry, and no MaxRetriesExceededError
    assert not any("next sync" in record.getMessage() for record in caplog.records)
    calendar = AgentCalendar.objects.get(pk=alice_calendar.pk)
    assert calendar.state == AgentCalendar.State.PAUSED
    assert calendar.last_error.startswith("Disconnect not finished:") and "disconnect it again" in calendar.last_error
    (line,) = SyncLogEntry.objects.filter(agent_calendar=calendar, result=SyncLogEntry.Result.ERROR)
    assert line.operation == "disconnect" and line.message == calendar.last_error
    assert len(alice_phone.entries()) == 1  # nothing was removed

    engine.release(alice_calendar, owner)
    again = finish_disconnect.apply(args=(alice_calendar.pk, True), throw=False).get()

    assert again == "disconnected, 1 removed"
    assert alice_phone.entries() == [] and not AgentCalendar.objects.filter(pk=alice_calendar.pk).exists()
