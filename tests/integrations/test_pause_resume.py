"""Trial F15: pausing a calendar holds the helpdesk's changes back, counts them as pending, and
resuming sends them at once (S3.2: queued when the resume commits, never inside the web
request). Against a real Radicale; what the phone shows is read with the `caldav` package."""

from datetime import timedelta

import pytest

from calendars import services as calendar_services
from integrations import selectors, services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice_calendar, tomorrow_9, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = calendar_services.create_appointment(
            subject="#57 Printer", start=tomorrow_9, end=tomorrow_9 + timedelta(hours=1), agents=[alice_calendar.agent]
        )
    assert SyncLink.objects.get(appointment=appointment).pending is False
    return appointment


def _phone_start(alice_phone):
    (entry,) = alice_phone.entries()
    return entry.icalendar_component.decoded("dtstart")


def _admin_form(agent_calendar, state: str) -> dict:
    return {
        "agent": agent_calendar.agent_id,
        "connection": agent_calendar.connection_id,
        "mailbox": agent_calendar.mailbox,
        "calendar_id": agent_calendar.calendar_id,
        "calendar_name": agent_calendar.calendar_name,
        "state": state,
    }


def _move(job, minutes: int, capture):
    with capture(execute=True):
        calendar_services.update_appointment(
            job, start=job.start + timedelta(minutes=minutes), end=job.end + timedelta(minutes=minutes)
        )


def test_changes_made_while_paused_count_as_pending_and_stay_off_the_phone(
    admin_client, alice_calendar, alice_phone, job, tomorrow_9, django_capture_on_commit_callbacks
):
    response = admin_client.post(
        f"/admin/integrations/agentcalendar/{alice_calendar.pk}/change/", _admin_form(alice_calendar, "paused")
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    _move(job, 30, django_capture_on_commit_callbacks)

    assert _phone_start(alice_phone) == tomorrow_9  # held back
    (health,) = selectors.calendars_with_health([alice_calendar.agent])
    assert health.pending == 1
    assert selectors.sync_overview().connections[0].pending == 1
    page = admin_client.get("/admin/integrations/agentcalendar/").content.decode()
    assert '<td class="field-pending">1</td>' in page


def test_resuming_in_the_admin_form_pushes_what_waited_on_commit(
    admin_client, alice_calendar, alice_phone, job, tomorrow_9, django_capture_on_commit_callbacks
):
    change = f"/admin/integrations/agentcalendar/{alice_calendar.pk}/change/"
    admin_client.post(change, _admin_form(alice_calendar, "paused"))
    _move(job, 30, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client.post(change, _admin_form(alice_calendar, "active"))
        assert _phone_start(alice_phone) == tomorrow_9  # nothing sent inside the request
    assert response.status_code == 302
    for callback in queued:
        callback()

    assert _phone_start(alice_phone) == tomorrow_9 + timedelta(minutes=30)
    assert SyncLink.objects.get(appointment=job).pending is False
    assert AgentCalendar.objects.get(pk=alice_calendar.pk).state == AgentCalendar.State.ACTIVE


def test_resume_action_pushes_what_waited(
    admin_client, alice_calendar, alice_phone, job, tomorrow_9, django_capture_on_commit_callbacks
):
    changelist = "/admin/integrations/agentcalendar/"
    admin_client.post(changelist, {"action": "pause_sync", "_selected_action": [alice_calendar.pk]})
    assert AgentCalendar.objects.get(pk=alice_calendar.pk).state == AgentCalendar.State.PAUSED
    _move(job, 60, django_capture_on_commit_callbacks)
    assert _phone_start(alice_phone) == tomorrow_9

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "resume_sync", "_selected_action": [alice_calendar.pk]})

    assert _phone_start(alice_phone) == tomorrow_9 + timedelta(minutes=60)


def test_a_new_appointment_made_while_paused_reaches_the_phone_on_resume(
    alice_calendar, alice_phone, tomorrow_9, django_capture_on_commit_callbacks
):
    services.set_paused([alice_calendar], paused=True)
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.create_appointment(
            subject="Made while paused",
            start=tomorrow_9,
            end=tomorrow_9 + timedelta(hours=1),
            agents=[alice_calendar.agent],
        )
    assert alice_phone.entries() == []

    with django_capture_on_commit_callbacks(execute=True):
        assert services.set_paused([alice_calendar], paused=False) == 1

    assert [str(e.icalendar_component["summary"]) for e in alice_phone.entries()] == ["Made while paused"]


def test_one_resume_in_the_admin_form_queues_one_push(
    admin_client, alice_calendar, job, pushes_run, django_capture_on_commit_callbacks
):
    change = f"/admin/integrations/agentcalendar/{alice_calendar.pk}/change/"
    admin_client.post(change, _admin_form(alice_calendar, "paused"))
    _move(job, 30, django_capture_on_commit_callbacks)
    pushes_run.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(change, _admin_form(alice_calendar, "active"))

    assert response.status_code == 302
    assert pushes_run == [alice_calendar.pk]


def test_one_resume_action_queues_one_push(
    admin_client, alice_calendar, job, pushes_run, django_capture_on_commit_callbacks
):
    changelist = "/admin/integrations/agentcalendar/"
    admin_client.post(changelist, {"action": "pause_sync", "_selected_action": [alice_calendar.pk]})
    _move(job, 30, django_capture_on_commit_callbacks)
    pushes_run.clear()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "resume_sync", "_selected_action": [alice_calendar.pk]})

    assert pushes_run == [alice_calendar.pk]


# --- who paused or resumed, and what a state change costs --------------------------------------------


def _state_log(agent_calendar) -> list[tuple[str, str]]:
    return list(
        SyncLogEntry.objects.filter(agent_calendar=agent_calendar).order_by("id").values_list("operation", "message")
    )


def test_pausing_and_resuming_in_the_admin_form_log_who_did_it(admin_client, admin_user, alice_calendar):
    change = f"/admin/integrations/agentcalendar/{alice_calendar.pk}/change/"
    admin_client.post(change, _admin_form(alice_calendar, "paused"))
    admin_client.post(change, _admin_form(alice_calendar, "active"))

    log = _state_log(alice_calendar)
    assert [operation for operation, _ in log] == ["pause", "resume"]
    assert all(f"by {admin_user.username}" in message for _, message in log)
    assert SyncLogEntry.objects.filter(agent=alice_calendar.agent).count() == 2


def test_pause_and_resume_actions_log_who_did_it(admin_client, admin_user, alice_calendar):
    changelist = "/admin/integrations/agentcalendar/"
    admin_client.post(changelist, {"action": "pause_sync", "_selected_action": [alice_calendar.pk]})
    admin_client.post(changelist, {"action": "resume_sync", "_selected_action": [alice_calendar.pk]})

    log = _state_log(alice_calendar)
    assert [operation for operation, _ in log] == ["pause", "resume"]
    assert all(f"by {admin_user.username}" in message for _, message in log)


def test_resuming_a_calendar_not_paused_logs_nothing(admin_user, alice_calendar):
    assert services.set_paused([alice_calendar], paused=False, by=admin_user) == 0
    assert _state_log(alice_calendar) == []


def _calendar_rows(captured, verb: str) -> int:
    return sum(
        1 for query in captured if query["sql"].startswith(verb) and "integrations_agentcalendar" in query["sql"]
    )


def test_resuming_reads_and_writes_the_calendars_once(
    admin_user, alice_calendar, bob_calendar, django_assert_max_num_queries
):
    services.set_paused([alice_calendar, bob_calendar], paused=True, by=admin_user)
    calendars = AgentCalendar.objects.filter(pk__in=[alice_calendar.pk, bob_calendar.pk])

    # savepoint, read, write, one insert into the sync log, release
    with django_assert_max_num_queries(5) as captured:
        assert services.set_paused(calendars, paused=False, by=admin_user) == 2

    assert _calendar_rows(captured, "SELECT") == 1
    assert _calendar_rows(captured, "UPDATE") == 1


def test_a_state_change_in_the_admin_form_writes_the_calendar_once(admin_client, alice_calendar):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.post(
            f"/admin/integrations/agentcalendar/{alice_calendar.pk}/change/", _admin_form(alice_calendar, "paused")
        )

    assert response.status_code == 302
    assert _calendar_rows(captured, "UPDATE") == 1
    assert AgentCalendar.objects.get(pk=alice_calendar.pk).state == AgentCalendar.State.PAUSED
