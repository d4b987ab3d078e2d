"""Issue 9 on Google: reported faults as named cases, through google-api-python-client against the
local Google Calendar server. The right values come from the server's own events (the master's
RFC 5545 lines and its exception events, expanded by recurring-ical-events in `google_view`), never
from our mapping code."""

from datetime import UTC, timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import AgentCalendar, SyncLink
from integrations.sync import engine
from tests.integrations.series import helpdesk_view, make_daily_series

from .conftest import ALICE
from .test_google_sync import google_view

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def sync(agent_calendar: AgentCalendar):
    return engine.sync_agent_calendar(AgentCalendar.objects.get(pk=agent_calendar.pk), pull=True)


def test_a_moved_occurrence_of_a_private_helpdesk_series_follows_the_phone_renaming_the_series(
    importing_google, google, tomorrow_9
):
    """Long-profile failure `S8 differs` (seed 7): the helpdesk's own series, made private, has one
    occurrence moved and pushed (events.patch of its instance id: the recurring-events guide's way to
    modify one instance, which makes it an exception, an event resource of its own with its own
    `summary`, here the series' summary of the time); then the phone renames the series (a patch of
    the master alone). Google then shows the moved occurrence under the old summary, a copy of the
    series' old one, never its own (F-SERIES-SUBJ): the occurrence follows the series in the helpdesk,
    and the helpdesk writes the new summary into the exception, so both sides show it."""
    master = make_daily_series(importing_google.agent, tomorrow_9)
    calendar_services.update_appointment(master, private=True)
    sync(importing_google)
    second = Appointment.objects.visible().filter(master=master).order_by("start")[1]
    calendar_services.update_appointment(second, start=second.start + 2 * HOUR, end=second.end + 2 * HOUR)
    sync(importing_google)
    master_id = SyncLink.objects.get(appointment=master).remote_id
    assert google.event(ALICE, master_id)["visibility"] == "private"
    google.phone_patch(ALICE, master_id, summary="S1 visit (phone)")

    sync(importing_google)

    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=5))
    shown = google_view(google, *window)
    assert [subject for _s, _e, subject in shown] == ["S1 visit (phone)"] * 4
    helpdesk = [(s.astimezone(UTC), e.astimezone(UTC), subject) for s, e, subject in helpdesk_view(master, *window)]
    assert helpdesk == shown
    report = sync(importing_google)
    assert (report.pushed, report.pulled, report.failed) == (0, 0, 0)


@pytest.mark.parametrize("push_only_first", [True, False], ids=["push-only-sync-first", "pull-first"])
def test_a_series_whose_create_failed_after_google_made_it_is_deleted_with_its_appointment(
    importing_google, google, tomorrow_9, push_only_first
):
    """Long-profile failure `{'S1': (0, 1)}` (seed 7, after the S8 fix), reduced: the helpdesk's series
    with one occurrence moved is pushed while Google answers 403 rateLimitExceeded: the batch insert of
    the master lands (the event id is ours, from the marker), the follow-up call for the moved instance
    is refused, so the create counts as failed and the link holds no remote id. The helpdesk then
    deletes the series. A push-only sync forgot the link and left the event on Google for good; a pull
    imported it back as new. Expected (the helpdesk deleted its own entry, nobody else touched it):
    gone from both sides, read from the server's own events."""
    master = make_daily_series(importing_google.agent, tomorrow_9)
    first = Appointment.objects.visible().filter(master=master).order_by("start")[0]
    calendar_services.update_appointment(first, start=first.start + 2 * HOUR, end=first.end + 2 * HOUR)
    google.fail_next(403, "rateLimitExceeded", times=3, path=f"/calendar/v3/calendars/{ALICE}/events")
    failed = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_google.pk), pull=False)
    google.calm()
    assert failed.failed == 1
    assert [e["summary"] for e in google.events(ALICE)] == ["S1 stand-up"]  # it landed all the same

    calendar_services.delete_appointment(master)
    if push_only_first:
        engine.sync_agent_calendar(AgentCalendar.objects.get(pk=importing_google.pk), pull=False)
    sync(importing_google)

    assert google.events(ALICE) == []
    assert not Appointment.objects.exists()
    assert not SyncLink.objects.exists()
    report = sync(importing_google)
    assert (report.pushed, report.pulled, report.failed) == (0, 0, 0)


def test_a_series_on_its_own_zone_refused_at_every_retry_keeps_one_log_line(
    alice_google, tomorrow_9, django_capture_on_commit_callbacks
):
    """Task push 5: Google Calendar refuses a series on its organiser's own VTIMEZONE at every retry; the
    sync log says so once, counting the attempts."""
    from tests.integrations.series import own_zone_series_refused_keeps_one_line

    own_zone_series_refused_keeps_one_line(
        alice_google, django_capture_on_commit_callbacks, tomorrow_9, "Google Calendar"
    )


def test_a_moved_occurrence_a_phone_rule_change_drops_goes_on_both_sides_with_one_line(
    alice_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    """Task push 2 on Google: the phone ends the series after its first occurrence (the master's
    recurrence COUNT=1); the moved second occurrence goes from the helpdesk and from Google (no
    exception event of the series left showing), and one log line says so."""
    from tests.integrations.series import phone_rule_drops_a_moved_occurrence

    def end_after_the_first(master_id: str) -> None:
        google.phone_patch(ALICE, master_id, recurrence=["RRULE:FREQ=WEEKLY;COUNT=1"])

    phone_rule_drops_a_moved_occurrence(
        alice_google, django_capture_on_commit_callbacks, tomorrow_9, end_after_the_first
    )

    left = [e for e in google.events(ALICE) if e.get("recurringEventId")]
    assert left == [], left
