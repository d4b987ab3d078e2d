"""A change queues its push when its transaction commits, never when it rolls back (Django,
"Performing actions after commit": callbacks registered in a rolled-back atomic block are
discarded), and the next committed change pushes only its own calendars."""

from datetime import timedelta

import pytest
from django.db import transaction

from calendars import services as calendar_services


class _Undone(Exception):
    pass


def _book(agent, start, subject):
    return calendar_services.create_appointment(
        subject=subject, start=start, end=start + timedelta(hours=1), agents=[agent]
    )


@pytest.mark.django_db
def test_a_change_in_a_rolled_back_block_queues_no_push(
    alice_calendar, bob_calendar, tomorrow_9, pushes_run, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(_Undone), transaction.atomic():
            _book(alice_calendar.agent, tomorrow_9, "Rolled back")
            raise _Undone
        _book(bob_calendar.agent, tomorrow_9, "Kept")

    assert pushes_run == [bob_calendar.pk]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_nothing_for_the_next_commit(
    alice_calendar, bob_calendar, tomorrow_9, pushes_run
):
    with pytest.raises(_Undone), transaction.atomic():
        _book(alice_calendar.agent, tomorrow_9, "Rolled back")
        raise _Undone
    assert pushes_run == []

    with transaction.atomic():
        _book(bob_calendar.agent, tomorrow_9, "Kept")

    assert pushes_run == [bob_calendar.pk]
