"""Recurring masters and their occurrences: a year ahead, moved and cancelled ones kept."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import FR, MO, WE, WEEKLY, rrule
from django.core.exceptions import ValidationError

from calendars import services
from calendars.models import Appointment

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 9, 1, tzinfo=AMS)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


@pytest.fixture
def standup(alice, bob) -> Appointment:
    return services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;BYDAY=MO",
        subject="Stand-up",
        start=at(2026, 9, 7, 9),
        end=at(2026, 9, 7, 9, 30),
        agents=[alice, bob],
        now=NOW,
    )


def shown(master: Appointment) -> list[tuple[datetime, datetime]]:
    """What the calendar shows of a series: its visible occurrences."""
    occurrences = Appointment.objects.visible().filter(master=master).order_by("start")
    return [(o.start, o.end) for o in occurrences]


def test_weekly_master_shows_dateutils_occurrences_for_a_year_with_a_moved_and_a_cancelled_one(standup):
    occurrences = list(standup.occurrences.order_by("original_start"))
    moved, cancelled = occurrences[3], occurrences[10]
    services.update_appointment(moved, start=at(2026, 9, 29, 14), end=at(2026, 9, 29, 14, 30))
    services.delete_appointment(cancelled)

    # A year ahead of the first start (it lies after "now").
    year = rrule(WEEKLY, byweekday=MO, dtstart=at(2026, 9, 7, 9), until=at(2026, 9, 7, 9) + timedelta(days=365))
    expected_starts = list(year)
    gone = (moved.original_start, cancelled.original_start)
    expected = [(s, s + timedelta(minutes=30)) for s in expected_starts if s not in gone]
    expected.append((at(2026, 9, 29, 14), at(2026, 9, 29, 14, 30)))

    assert len(expected_starts) == 53
    assert shown(standup) == sorted(expected)
    assert Appointment.objects.get(pk=cancelled.pk).is_cancelled


def test_occurrences_keep_their_wall_clock_time_across_dst_changes(standup):
    local_times = {(o.start.astimezone(AMS).hour, o.start.astimezone(AMS).minute) for o in standup.occurrences.all()}
    offsets = {o.start.astimezone(AMS).utcoffset() for o in standup.occurrences.all()}

    assert local_times == {(9, 0)}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}  # winter and summer time both covered


def test_occurrences_are_on_every_agent_of_the_master(standup, alice, bob):
    assert all(set(o.agents.all()) == {alice, bob} for o in standup.occurrences.all())


def test_master_itself_is_not_shown_only_its_occurrences(standup):
    assert not Appointment.objects.visible().filter(pk=standup.pk).exists()


def horizon_of(master: Appointment):
    """The last moment a series made at NOW stores: a year after its start (which lies after NOW)."""
    return master.start + timedelta(days=365)


def test_a_new_rule_drops_occurrences_moved_or_cancelled_on_their_own_that_it_no_longer_gives(standup):
    """Outlook and Google: a series' new rule keeps no exception of a day it no longer gives
    (RFC 5545 3.8.4.4: a RECURRENCE-ID names an instance of the rule's set). Before, the moved
    Monday and the cancelled one stayed beside the new Wednesdays."""
    occurrences = list(standup.occurrences.order_by("original_start"))
    moved, cancelled = occurrences[1], occurrences[2]
    services.update_appointment(moved, start=at(2026, 9, 15, 11), end=at(2026, 9, 15, 11, 30))
    services.cancel_occurrence(cancelled)

    services.change_schedule(standup, rule="RRULE:FREQ=WEEKLY;BYDAY=WE", now=NOW)

    wednesdays = list(rrule(WEEKLY, byweekday=WE, dtstart=at(2026, 9, 7, 9), until=horizon_of(standup)))
    remaining = Appointment.objects.filter(master=standup).order_by("original_start")
    assert [o.original_start for o in remaining] == wednesdays
    assert not remaining.filter(is_modified=True).exists()
    assert shown(standup) == [(s, s + timedelta(minutes=30)) for s in wednesdays]


def test_a_new_rule_keeps_occurrences_moved_or_cancelled_on_their_own_that_it_still_gives(standup):
    occurrences = list(standup.occurrences.order_by("original_start"))
    moved, cancelled = occurrences[1], occurrences[2]
    services.update_appointment(moved, start=at(2026, 9, 15, 11), end=at(2026, 9, 15, 11, 30))
    services.cancel_occurrence(cancelled)

    services.change_schedule(standup, rule="RRULE:FREQ=WEEKLY;BYDAY=MO,WE", now=NOW)

    starts = list(rrule(WEEKLY, byweekday=(MO, WE), dtstart=at(2026, 9, 7, 9), until=horizon_of(standup)))
    remaining = Appointment.objects.filter(master=standup)
    assert sorted(remaining.values_list("original_start", flat=True)) == starts
    assert remaining.get(pk=moved.pk).start == at(2026, 9, 15, 11)
    assert remaining.get(pk=cancelled.pk).is_cancelled
    own = (moved.original_start, cancelled.original_start)
    expected = [(s, s + timedelta(minutes=30)) for s in starts if s not in own]
    assert shown(standup) == sorted([*expected, (at(2026, 9, 15, 11), at(2026, 9, 15, 11, 30))])


def test_cancellations_and_edits_beyond_the_horizon_follow_the_new_rule(standup):
    """A cancelled Monday and a moved one not made yet (a year and more ahead, as a pull keeps
    them) stay while the new rule gives their day, and go when it does not."""
    far_cancelled, far_moved = at(2027, 10, 4, 9), at(2027, 10, 11, 9)
    assert far_cancelled > horizon_of(standup)
    services.keep_cancelled_starts(standup, [far_cancelled])
    edit = {"original_start": far_moved, "start": at(2027, 10, 11, 15), "end": at(2027, 10, 11, 15, 30)}
    services.keep_future_exceptions(standup, [edit])

    services.change_schedule(standup, rule="RRULE:FREQ=WEEKLY;BYDAY=MO,FR", now=NOW)
    standup.refresh_from_db()
    assert services.cancelled_starts(standup.schedule) == [far_cancelled]
    assert [e["original_start"] for e in services.future_exceptions(standup.schedule)] == [far_moved]

    services.change_schedule(standup, rule="RRULE:FREQ=WEEKLY;BYDAY=FR", now=NOW)
    standup.refresh_from_db()
    assert services.cancelled_starts(standup.schedule) == []
    assert services.future_exceptions(standup.schedule) == []
    fridays = list(rrule(WEEKLY, byweekday=FR, dtstart=at(2026, 9, 7, 9), until=horizon_of(standup)))
    assert sorted(standup.occurrences.values_list("original_start", flat=True)) == fridays


def test_a_master_edit_flows_to_unedited_occurrences_only(standup):
    edited = standup.occurrences.order_by("original_start")[2]
    services.update_appointment(edited, subject="Stand-up with the customer")

    services.update_appointment(standup, subject="Daily sync", note="Room 2")

    subjects = set(standup.occurrences.exclude(pk=edited.pk).values_list("subject", flat=True))
    assert subjects == {"Daily sync"}
    assert Appointment.objects.get(pk=edited.pk).subject == "Stand-up with the customer"


def test_moving_the_master_moves_the_unedited_series(standup):
    services.update_appointment(standup, start=at(2026, 9, 7, 10), end=at(2026, 9, 7, 11))

    assert {(o.start.astimezone(AMS).hour, o.end - o.start) for o in standup.occurrences.all()} == {
        (10, timedelta(hours=1))
    }


def test_periodic_extension_keeps_a_year_ahead(standup):
    later = NOW + timedelta(days=60)

    created = services.extend_recurring_appointments(now=later)

    new_mondays = rrule(WEEKLY, byweekday=MO, dtstart=at(2027, 9, 7, 9), until=later + timedelta(days=365))
    last = standup.occurrences.order_by("-original_start").first()
    assert created == len(list(new_mondays)) == 7
    assert last.start == list(new_mondays)[-1]
    assert services.extend_recurring_appointments(now=later) == 0


def test_deleting_a_master_removes_its_occurrences(standup):
    services.delete_appointment(standup)

    assert not Appointment.objects.exists()


def test_a_rule_that_yields_no_occurrence_is_refused(alice):
    with pytest.raises(ValidationError, match="gives no occurrence"):
        services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20200101T000000Z",
            subject="Never",
            start=at(2026, 9, 7, 9),
            end=at(2026, 9, 7, 10),
            agents=[alice],
        )

    assert not Appointment.objects.exists()


def test_an_unreadable_rule_is_refused(alice):
    with pytest.raises(ValidationError, match="not valid"):
        services.create_recurring_appointment(
            rule="FREQ=SOMETIMES", subject="?", start=at(2026, 9, 7, 9), end=at(2026, 9, 7, 10), agents=[alice]
        )

    assert not Appointment.objects.exists()


def test_changing_to_a_rule_without_occurrences_keeps_the_old_rule(standup):
    before = standup.occurrences.count()

    with pytest.raises(ValidationError, match="gives no occurrence"):
        # COUNT=0 is refused as out of range now (RFC 5545 3.3.10, tests/web/test_api_messages.py).
        services.change_schedule(standup, rule="RRULE:FREQ=DAILY;UNTIL=20200101T000000Z")

    standup.refresh_from_db()
    assert str(standup.schedule.recurrence.rrules[0].to_text()) == "weekly, each Monday"
    assert standup.occurrences.count() == before


# --- bounded storage (issue 14): occurrences only from the import window's start ----------------


def weekly_since(first: datetime, agent, *, now: datetime, rule: str = "FREQ=WEEKLY;BYDAY=MO") -> Appointment:
    """A 30-minute series from `first`, made at `now`."""
    return services.create_recurring_appointment(
        rule=rule, subject="Old stand-up", start=first, end=first + timedelta(minutes=30), agents=[agent], now=now
    )


def test_series_begun_ten_years_ago_stores_only_the_visible_occurrences(alice, calendar_settings):
    calendar_settings.import_days_past = 30
    calendar_settings.save()
    first = at(2016, 9, 5, 9)  # a Monday ten years before NOW

    master = weekly_since(first, alice, now=NOW, rule="RRULE:FREQ=WEEKLY;BYDAY=MO")

    window_start, horizon = NOW - timedelta(days=30), NOW + timedelta(days=365)
    expected = list(rrule(WEEKLY, byweekday=MO, dtstart=first, until=horizon))
    visible = [moment for moment in expected if moment >= window_start]
    stored = sorted(master.occurrences.values_list("original_start", flat=True))
    assert stored == visible and len(expected) > 10 * 52 > len(stored) == 57


def test_periodic_extension_of_an_old_series_moves_the_window_and_keeps_what_was_made(alice, calendar_settings):
    first = at(2016, 9, 5, 9)
    master = weekly_since(first, alice, now=NOW)
    before = set(master.occurrences.values_list("original_start", flat=True))
    later = NOW + timedelta(days=60)

    services.extend_recurring_appointments(now=later)

    expected = rrule(WEEKLY, byweekday=MO, dtstart=first, until=later + timedelta(days=365))
    made = set(master.occurrences.values_list("original_start", flat=True))
    assert made == before | {m for m in expected if m >= NOW - timedelta(days=30)}


def test_a_new_rule_on_an_old_series_leaves_occurrences_before_the_window_alone(alice, calendar_settings):
    first = at(2026, 6, 1, 9)  # three months before NOW: two months of its occurrences are past the window
    master = weekly_since(first, alice, now=at(2026, 6, 1, 0))
    early = set(master.occurrences.filter(original_start__lt=NOW - timedelta(days=30)).values_list("pk", flat=True))

    services.change_schedule(master, rule="FREQ=WEEKLY;BYDAY=MO;INTERVAL=2", now=NOW)

    assert early and early <= set(master.occurrences.values_list("pk", flat=True))
    fortnightly = rrule(WEEKLY, interval=2, byweekday=MO, dtstart=first, until=NOW + timedelta(days=365))
    in_window = {
        o for o in master.occurrences.values_list("original_start", flat=True) if o >= NOW - timedelta(days=30)
    }
    assert in_window == {m for m in fortnightly if m >= NOW - timedelta(days=30)}


def test_bad_rule_error_is_a_plain_sentence_not_a_python_list():
    """Trial 2 item 5: FREQ=BOGUS is not an RFC 5545 §3.3.10 frequency; the message must read as text."""
    with pytest.raises(ValidationError) as caught:
        services._parse_rule("FREQ=BOGUS")
    message = caught.value.message_dict["rule"][0]
    assert "BOGUS" in message
    assert "[" not in message and "]" not in message
