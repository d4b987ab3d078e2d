"""Trial fault 1: a second helpdesk change made while the first one is being pushed reaches the
external calendar at once (SPEC S3.2), without a poll and without a conflict.

The second change is made through the calendars service by a hook of the fault proxy
(tests/peers/fault_proxy.py), in the proxy's thread, while the push of the first one is in flight
(its PUT held before it goes upstream): the push has read the appointment, and records its result
after the change committed. What the calendar holds is read with the caldav client library."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink, SyncLogEntry
from tests.integrations.conftest import USERS, OtherClient, calendar_through_proxy
from tests.integrations.reminder_and_race import give_back_while_its_removal_is_pushed, once_during
from tests.peers.fault_proxy import FaultProxy

pytestmark = [pytest.mark.slow]


@pytest.fixture
def proxy(radicale):
    proxy = FaultProxy(radicale.url)
    yield proxy
    proxy.stop()


@pytest.fixture
def proxied_calendar(alice, proxy, radicale, caldav_connection):
    """Alice's calendar, reached by the connector through the proxy."""
    return calendar_through_proxy(alice, proxy, radicale, caldav_connection, name="Through the proxy", timeout=5)


def _during_next_put(proxy: FaultProxy, change) -> list:
    """Run `change()` once, in the proxy's thread, when the next PUT arrives, before it goes
    upstream; returns the list the change's outcome ("done" or the exception) is put in."""
    outcome, proxy.before_forward = once_during(lambda method, _path: method == "PUT", change)
    return outcome


@pytest.mark.django_db(transaction=True)
def test_a_move_made_while_a_rename_is_pushed_reaches_the_calendar_at_once(
    proxied_calendar, proxy, radicale, tomorrow_9
):
    alice = proxied_calendar.agent
    phone = OtherClient(
        radicale.url, "alice", USERS["alice"], radicale.url + proxied_calendar.calendar_id.split("/", 3)[3]
    )
    hour = timedelta(hours=1)
    appointment = calendar_services.create_appointment(
        subject="Race", start=tomorrow_9, end=tomorrow_9 + hour, agents=[alice]
    )  # committed: pushed on commit (Celery eager)
    link = SyncLink.objects.get(appointment=appointment)
    assert link.remote_id and not link.pending
    moved = tomorrow_9 + 2 * hour

    def move() -> None:
        calendar_services.update_appointment(Appointment.objects.get(pk=appointment.pk), start=moved, end=moved + hour)

    outcome = _during_next_put(proxy, move)
    calendar_services.update_appointment(appointment, subject="Race renamed")  # its push meets the move
    assert outcome == ["done"]

    entry = phone.by_uid(link.marker).icalendar_component
    assert str(entry["SUMMARY"]) == "Race renamed"
    assert entry.decoded("DTSTART").astimezone(UTC) == moved.astimezone(UTC)
    assert entry.decoded("DTEND").astimezone(UTC) == (moved + hour).astimezone(UTC)
    link.refresh_from_db()
    assert not link.pending
    assert not SyncLogEntry.objects.filter(result=SyncLogEntry.Result.CONFLICT).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("away_again", [False, True], ids=["given back", "given back and away again"])
def test_an_entry_given_back_while_its_removal_is_pushed_follows_the_helpdesk(
    away_again, proxied_calendar, proxy, radicale, bob, tomorrow_9
):
    """Task push 3: the delete's link goes only for the change the run read; the entry given back
    meanwhile is made again (under a new UID), one given away again stays gone."""
    phone = OtherClient(
        radicale.url, "alice", USERS["alice"], radicale.url + proxied_calendar.calendar_id.split("/", 3)[3]
    )

    def hook(callback) -> None:
        proxy.before_forward = callback

    give_back_while_its_removal_is_pushed(
        proxied_calendar.agent, bob, tomorrow_9, hook, lambda method, _path: method == "DELETE", away_again=away_again
    )

    entries = [str(entry.icalendar_component["SUMMARY"]) for entry in phone.entries()]
    assert entries == ([] if away_again else ["Race"])
