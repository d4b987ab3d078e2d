"""S1.3 manual appointments, and bad input refused with a clear message."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from agents.models import Agent
from calendars import services
from calendars.models import Appointment
from calendars.signals import Change, appointment_changed
from tickets.services import create_request

AMS = ZoneInfo("Europe/Amsterdam")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


def test_manual_appointment_on_a_request_for_two_agents_is_one_shared_entry(alice, bob):
    request = create_request(summary="Move office")

    [appointment] = services.create_appointments(
        agents=[alice, bob],
        one_each=False,
        subject="Move the rack",
        start=at(2026, 12, 7, 9),
        end=at(2026, 12, 7, 12),
        note="Key at reception",
        request=request,
        other_attendees=["facility@example.com"],
    )

    assert set(appointment.agents.all()) == {alice, bob}
    assert appointment.request == request
    assert appointment.source == Appointment.Source.MANUAL
    assert appointment.other_attendees == ["facility@example.com"]


def test_manual_appointment_for_two_agents_one_entry_each(alice, bob):
    appointments = services.create_appointments(
        agents=[alice, bob], one_each=True, subject="Inventory", start=at(2026, 12, 7, 9), end=at(2026, 12, 7, 10)
    )

    assert [list(a.agents.all()) for a in appointments] == [[alice], [bob]]


def test_standalone_appointment_has_no_request(alice):
    appointment = services.create_appointment(
        subject="Dentist", start=at(2026, 12, 7, 9), end=at(2026, 12, 7, 10), agents=[alice]
    )

    assert appointment.request is None


def test_naive_times_are_read_on_the_agents_wall_clock(bob):
    appointment = services.create_appointment(
        subject="Call", start=datetime(2026, 7, 1, 9), end=datetime(2026, 7, 1, 10), agents=[bob]
    )

    assert bob.local(appointment.start).hour == 9
    assert appointment.start == datetime(2026, 7, 1, 8, tzinfo=ZoneInfo("UTC"))  # BST = UTC+1


def test_reassigning_moves_the_entry_to_the_other_agent(alice, bob):
    appointment = services.create_appointment(
        subject="Visit", start=at(2026, 12, 7, 9), end=at(2026, 12, 7, 10), agents=[alice]
    )

    services.reassign_appointment(appointment, from_agent=alice, to_agent=bob)

    assert list(appointment.agents.all()) == [bob]


def test_each_change_is_announced_with_the_agents_it_had_before(alice, bob):
    seen = []

    def receiver(sender, appointment, change, agent_ids_before, by, **kwargs):
        seen.append((change, agent_ids_before))

    appointment_changed.connect(receiver)
    try:
        appointment = services.create_appointment(
            subject="Visit", start=at(2026, 12, 7, 9), end=at(2026, 12, 7, 10), agents=[alice]
        )
        services.update_appointment(appointment, subject="Visit (confirmed)")
        services.reassign_appointment(appointment, from_agent=alice, to_agent=bob)
        services.update_appointment(appointment, start=at(2026, 12, 8, 9), end=at(2026, 12, 8, 10))
        services.delete_appointment(appointment)
    finally:
        appointment_changed.disconnect(receiver)

    assert seen == [
        (Change.CREATED, frozenset()),
        (Change.UPDATED, {alice.pk}),
        (Change.UPDATED, {alice.pk}),
        (Change.MOVED, {bob.pk}),
        (Change.DELETED, {bob.pk}),
    ]


# --- bad input -------------------------------------------------------------------------------


def test_end_before_start_is_refused_and_nothing_is_written(alice):
    with pytest.raises(ValidationError) as caught:
        services.create_appointment(subject="Oops", start=at(2026, 12, 7, 10), end=at(2026, 12, 7, 9), agents=[alice])

    assert caught.value.message_dict["end"] == ["The end must be after the start."]
    assert not Appointment.objects.exists()


def test_moving_the_end_before_the_start_is_refused_and_keeps_the_old_times(alice):
    appointment = services.create_appointment(
        subject="Visit", start=at(2026, 12, 7, 9), end=at(2026, 12, 7, 10), agents=[alice]
    )

    with pytest.raises(ValidationError, match="end must be after the start"):
        services.update_appointment(appointment, end=at(2026, 12, 7, 8))

    appointment.refresh_from_db()
    assert appointment.end == at(2026, 12, 7, 10)


def test_appointment_without_agents_is_refused(db):
    with pytest.raises(ValidationError, match="at least one technician"):
        services.create_appointment(subject="Nobody", start=at(2026, 12, 7, 9), end=at(2026, 12, 7, 10), agents=[])


def test_unknown_time_zone_is_refused_with_a_clear_message(alice):
    with pytest.raises(ValidationError, match="Invalid timezone 'Mars/Olympus_Mons'"):
        alice.time_zone = "Mars/Olympus_Mons"

    assert Agent.objects.get(pk=alice.pk).time_zone == ZoneInfo("Europe/Amsterdam")


def test_database_refuses_an_end_before_start_even_past_the_services(alice):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(subject="Raw", start=at(2026, 12, 7, 10), end=at(2026, 12, 7, 10) - timedelta(1))
