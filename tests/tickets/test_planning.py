"""S1.1, S1.2, S1.4: appointments that follow planned requests and actions."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import services
from tickets.models import Action, Request

AMS = ZoneInfo("Europe/Amsterdam")


def at(*args, zone=AMS) -> datetime:
    return datetime(*args, tzinfo=zone)


@pytest.fixture
def request_for_alice(alice) -> Request:
    return services.create_request(summary="Printer jams", customer="Acme", site="Rotterdam", assigned_agents=[alice])


def planned_appointment(request: Request) -> Appointment:
    return Appointment.objects.get(request=request, source=Appointment.Source.PLANNED)


def test_planning_a_request_creates_its_appointment_for_the_assigned_agent(request_for_alice, alice):
    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9), estimate=timedelta(hours=2))

    appointment = planned_appointment(request_for_alice)
    assert list(appointment.agents.all()) == [alice]
    assert (appointment.start, appointment.end) == (at(2026, 12, 1, 9), at(2026, 12, 1, 11))
    assert appointment.subject == f"#{request_for_alice.pk} Printer jams"
    assert appointment.location == "Rotterdam"


def test_planning_without_estimate_lasts_the_default_estimate(request_for_alice, calendar_settings):
    calendar_settings.default_estimate = timedelta(minutes=45)
    calendar_settings.save()

    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9))

    assert planned_appointment(request_for_alice).end == at(2026, 12, 1, 9, 45)


def test_moving_planned_date_moves_its_appointment(request_for_alice):
    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9), estimate=timedelta(hours=1))
    first = planned_appointment(request_for_alice)

    services.update_request(request_for_alice, planned_start=at(2026, 12, 3, 14))

    moved = planned_appointment(request_for_alice)
    assert moved.pk == first.pk
    assert (moved.start, moved.end) == (at(2026, 12, 3, 14), at(2026, 12, 3, 15))
    assert moved.sequence == first.sequence + 1
    assert Appointment.objects.filter(request=request_for_alice).count() == 1


def test_clearing_planned_date_removes_its_appointment(request_for_alice):
    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9))

    services.update_request(request_for_alice, planned_start=None)

    assert not Appointment.objects.filter(request=request_for_alice).exists()


def test_reassigning_a_planned_request_moves_the_appointment_to_the_new_agent(request_for_alice, bob):
    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9))

    services.update_request(request_for_alice, assigned_agents=[bob])

    assert list(planned_appointment(request_for_alice).agents.all()) == [bob]


def test_changing_the_estimate_resizes_the_appointment(request_for_alice):
    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9), estimate=timedelta(hours=1))

    services.update_request(request_for_alice, estimate=timedelta(hours=3))

    assert planned_appointment(request_for_alice).end == at(2026, 12, 1, 12)


def test_deleting_a_request_removes_its_appointments(request_for_alice):
    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9))

    services.delete_request(request_for_alice)

    assert not Appointment.objects.exists()


def test_action_added_to_calendar_creates_appointment_from_done_at_and_time_taken(request_for_alice, alice):
    action = services.log_action(
        request_for_alice,
        agent=alice,
        done_at=at(2026, 11, 2, 13, 15),
        time_taken=timedelta(minutes=50),
        note="Replaced the roller",
        add_to_calendar=True,
    )

    appointment = action.appointment
    assert appointment.source == Appointment.Source.ACTION
    assert (appointment.start, appointment.end) == (at(2026, 11, 2, 13, 15), at(2026, 11, 2, 14, 5))
    assert appointment.note == "Replaced the roller"
    assert list(appointment.agents.all()) == [alice]


def test_action_without_add_to_calendar_makes_no_appointment(request_for_alice, alice):
    services.log_action(request_for_alice, agent=alice, done_at=at(2026, 11, 2, 13), time_taken=timedelta(hours=1))

    assert not Appointment.objects.exists()


def test_editing_an_action_moves_its_appointment(request_for_alice, alice):
    action = services.log_action(
        request_for_alice, agent=alice, done_at=at(2026, 11, 2, 13), time_taken=timedelta(hours=1), add_to_calendar=True
    )

    services.update_action(action, done_at=at(2026, 11, 4, 8), time_taken=timedelta(minutes=30))

    appointment = Appointment.objects.get(action=action)
    assert (appointment.start, appointment.end) == (at(2026, 11, 4, 8), at(2026, 11, 4, 8, 30))


def test_unticking_add_to_calendar_removes_the_appointment(request_for_alice, alice):
    action = services.log_action(
        request_for_alice, agent=alice, done_at=at(2026, 11, 2, 13), time_taken=timedelta(hours=1), add_to_calendar=True
    )

    services.update_action(action, add_to_calendar=False)

    assert not Appointment.objects.exists()


def test_deleting_an_action_removes_its_appointment(request_for_alice, alice):
    action = services.log_action(
        request_for_alice, agent=alice, done_at=at(2026, 11, 2, 13), time_taken=timedelta(hours=1), add_to_calendar=True
    )

    services.delete_action(action)

    assert not Appointment.objects.exists()
    assert not Action.objects.exists()


def test_dragging_a_planned_appointment_replans_its_request(request_for_alice):
    from calendars import services as calendar_services

    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9), estimate=timedelta(hours=1))

    calendar_services.update_appointment(
        planned_appointment(request_for_alice), start=at(2026, 12, 2, 10), end=at(2026, 12, 2, 12)
    )

    request_for_alice.refresh_from_db()
    assert request_for_alice.planned_start == at(2026, 12, 2, 10)
    assert request_for_alice.estimate == timedelta(hours=2)


# --- bad input -------------------------------------------------------------------------------


def test_negative_time_taken_is_refused_and_nothing_is_written(request_for_alice, alice):
    with pytest.raises(ValidationError, match="cannot be negative"):
        services.log_action(
            request_for_alice,
            agent=alice,
            done_at=at(2026, 11, 2, 13),
            time_taken=timedelta(minutes=-5),
            add_to_calendar=True,
        )

    assert not Action.objects.exists()
    assert not Appointment.objects.exists()


def test_zero_or_negative_estimate_is_refused(request_for_alice):
    with pytest.raises(ValidationError, match="longer than zero"):
        services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9), estimate=timedelta(0))

    request_for_alice.refresh_from_db()
    assert request_for_alice.planned_start is None
    assert not Appointment.objects.exists()


# --- daylight saving time --------------------------------------------------------------------


def test_request_planned_across_dst_change_keeps_its_wall_clock_time(make_agent):
    """Europe/Amsterdam leaves summer time on 25 October 2026; 09:00 stays 09:00 for the agent."""
    agent = make_agent("dst", time_zone="Europe/Amsterdam")
    request = services.create_request(summary="Patch servers", assigned_agents=[agent])
    services.update_request(request, planned_start=at(2026, 10, 23, 9), estimate=timedelta(hours=1))

    services.update_request(request, planned_start=datetime(2026, 10, 26, 9, tzinfo=agent.zone))

    appointment = planned_appointment(request)
    assert agent.local(appointment.start).hour == 9
    assert appointment.start.utcoffset() is not None
    assert appointment.start == datetime(2026, 10, 26, 8, tzinfo=ZoneInfo("UTC"))  # CET = UTC+1


def test_deleting_the_planned_appointment_unplans_its_request(request_for_alice):
    from calendars import services as calendar_services

    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9))

    calendar_services.delete_appointment(planned_appointment(request_for_alice))

    request_for_alice.refresh_from_db()
    assert request_for_alice.planned_start is None


def test_unassigning_everyone_removes_the_appointment_but_keeps_the_planned_date(request_for_alice):
    services.update_request(request_for_alice, planned_start=at(2026, 12, 1, 9))

    services.update_request(request_for_alice, assigned_agents=[])

    request_for_alice.refresh_from_db()
    assert request_for_alice.planned_start == at(2026, 12, 1, 9)
    assert not Appointment.objects.exists()


def test_deleting_an_actions_appointment_keeps_the_action_off_the_calendar(request_for_alice, alice):
    from calendars import services as calendar_services

    action = services.log_action(
        request_for_alice, agent=alice, done_at=at(2026, 11, 2, 13), time_taken=timedelta(hours=1), add_to_calendar=True
    )

    calendar_services.delete_appointment(action.appointment)

    action.refresh_from_db()
    assert not action.add_to_calendar
    assert not Appointment.objects.exists()


def test_a_technician_cannot_plan_a_new_request_on_a_colleagues_calendar_through_the_service(alice, bob):
    """SPEC S1.1 with the permission table (review fault 2): a technician plans a new request only with
    herself among its technicians; the service refuses it for every caller, saving nothing."""
    with pytest.raises(ValidationError) as refused:
        services.create_request(
            summary="For Bob", assigned_agents=[bob], planned_start=at(2035, 3, 5, 9), by=alice.user
        )

    assert refused.value.message_dict == {
        "assigned_agents": [
            "You may plan a new request only on your own calendar: add yourself to its technicians, or "
            "leave the planned start empty and ask a coordinator to plan it."
        ]
    }
    assert not Request.objects.exists() and not Appointment.objects.exists()


def test_a_technician_may_plan_a_new_request_with_herself_or_leave_it_unplanned(alice, bob):
    with_herself = services.create_request(
        summary="Together", assigned_agents=[alice, bob], planned_start=at(2035, 3, 5, 9), by=alice.user
    )
    unplanned = services.create_request(summary="Later", assigned_agents=[bob], by=alice.user)

    assert planned_appointment(with_herself).agents.count() == 2
    assert unplanned.planned_start is None


# Trial 2, N1: on the night the clocks change, a request's estimate and an action's time taken are
# exact hours (RFC 5545 3.3.6: hours in a duration are exact; only days and weeks are nominal), so a
# 2-hour job is 2 real hours, as Outlook and Google make it. The right instants are the UTC
# arithmetic of the start and the length.
DST_NIGHTS = [
    pytest.param(datetime(2027, 10, 31, 1, 30, tzinfo=AMS), id="autumn: 01:30 CEST + 2 h = 02:30 CET"),
    pytest.param(datetime(2027, 3, 28, 1, 0, tzinfo=AMS), id="spring: 01:00 CET + 2 h = 04:00 CEST"),
]


@pytest.mark.parametrize("start", DST_NIGHTS)
def test_a_planned_job_on_the_dst_night_lasts_its_estimate_in_real_hours_and_an_edit_keeps_it(request_for_alice, start):
    two_hours = timedelta(hours=2)
    services.update_request(request_for_alice, planned_start=start, estimate=two_hours)

    appointment = planned_appointment(request_for_alice)
    assert appointment.end == start.astimezone(UTC) + two_hours
    calendar_services.update_appointment(appointment, note="Bring the keys")
    request_for_alice.refresh_from_db()
    assert request_for_alice.estimate == two_hours


PAST_DST_NIGHTS = [  # work is logged when done: nights before today
    pytest.param(datetime(2025, 10, 26, 1, 30, tzinfo=AMS), id="autumn: 01:30 CEST + 2 h = 02:30 CET"),
    pytest.param(datetime(2026, 3, 29, 1, 0, tzinfo=AMS), id="spring: 01:00 CET + 2 h = 04:00 CEST"),
]


@pytest.mark.parametrize("start", PAST_DST_NIGHTS)
def test_work_logged_on_the_dst_night_lasts_its_time_taken_in_real_hours_and_an_edit_keeps_it(
    request_for_alice, alice, start
):
    two_hours = timedelta(hours=2)
    action = services.log_action(
        request_for_alice, agent=alice, done_at=start, time_taken=two_hours, add_to_calendar=True
    )

    appointment = Appointment.objects.get(action=action)
    assert appointment.end == start.astimezone(UTC) + two_hours
    calendar_services.update_appointment(appointment, note="Replaced the fuser")
    action.refresh_from_db()
    assert action.time_taken == two_hours
