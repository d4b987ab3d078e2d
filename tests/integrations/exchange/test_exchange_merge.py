"""Updates merge (MS-OXWSCORE UpdateItem): only the helpdesk-owned fields that changed are set, so
what Outlook keeps on an entry that the helpdesk does not model (Categories, the user's own
reminder, other extended properties, an HTML body) survives every helpdesk edit."""

import dataclasses
from datetime import timedelta

import pytest

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import SyncLink
from integrations.providers.base import RemoteRef, VersionConflict

from .conftest import ALICE
from .test_exchange_provider import MARKER_KEY, next_monday, visit

HOUR = timedelta(hours=1)
CRM_CASE = ("PublicStrings", "CrmCaseId", "String")  # another add-in's named property
HTML = "<html><body><p><b>Bring</b> the ladder</p></body></html>"


def outlook_entry(ews, **fields) -> str:
    """An entry as a technician makes it in Outlook: a colour category, a reminder an hour ahead,
    an add-in's extended property and a formatted body."""
    values = {
        "subject": "Dentist",
        "start": next_monday(9),
        "end": next_monday(10),
        "location": "Town",
        "categories": ["Private errands"],
        "reminder_is_set": True,
        "reminder_minutes": 60,
        "extended": {CRM_CASE: "CASE-7"},
        "body": HTML,
        "body_type": "HTML",
    }
    return ews.outlook_create(ALICE, **(values | fields))


def as_read(provider, calendar, window, item_id):
    (event,) = [event for event in provider.list_changes(calendar, None, window).changed if event.remote_id == item_id]
    return event


def test_update_with_base_sets_only_what_changed_and_keeps_the_rest(provider, calendar, ews, window):
    item_id = outlook_entry(ews)
    base = as_read(provider, calendar, window, item_id)
    edited = dataclasses.replace(base, location="Dental clinic", start=base.start + HOUR, end=base.end + HOUR)

    ref = provider.update(calendar, RemoteRef(item_id, base.version), edited, base=base)

    item = ews.item(ALICE, item_id)
    assert (item.location, item.start, item.end) == ("Dental clinic", next_monday(10), next_monday(11))
    assert item.categories == ["Private errands"]
    assert (item.reminder_is_set, item.reminder_minutes) == (True, 60)
    assert item.extended == {CRM_CASE: "CASE-7"}  # and no link id of ours stamped on it
    assert (item.body, item.body_type) == (HTML, "HTML")
    assert ref.version == item.change_key


@pytest.mark.parametrize("marker", [None, "the engine's own key"])
def test_helpdesk_reminder_never_replaces_the_users_own_on_an_outlook_entry(provider, calendar, ews, window, marker):
    item_id = outlook_entry(ews)
    # The engine keys an imported entry by some id of its own; only our link id on the item makes it ours.
    base = dataclasses.replace(as_read(provider, calendar, window, item_id), marker=marker)
    edited = dataclasses.replace(base, reminder_minutes=15)

    provider.update(calendar, RemoteRef(item_id, base.version), edited, base=base)

    item = ews.item(ALICE, item_id)
    assert (item.reminder_is_set, item.reminder_minutes) == (True, 60)


def test_update_without_base_keeps_categories_and_the_users_reminder(provider, calendar, ews):
    item_id = outlook_entry(ews)
    version = ews.item(ALICE, item_id).change_key

    provider.update(
        calendar, RemoteRef(item_id, version), visit(subject="Dentist", reminder_minutes=15, marker=item_id)
    )

    item = ews.item(ALICE, item_id)
    assert (item.subject, item.location) == ("Dentist", "Delft")
    assert item.categories == ["Private errands"]
    assert (item.reminder_is_set, item.reminder_minutes) == (True, 60)
    assert item.extended == {CRM_CASE: "CASE-7"}


def test_our_reminder_follows_the_helpdesk_on_our_own_entries(provider, calendar, ews, window):
    ref = provider.create(calendar, visit(marker="helpdesk-1"))
    base = as_read(provider, calendar, window, ref.remote_id)

    provider.update(calendar, ref, dataclasses.replace(base, reminder_minutes=30), base=base)

    item = ews.item(ALICE, ref.remote_id)
    assert (item.reminder_is_set, item.reminder_minutes) == (True, 30)
    assert item.extended[MARKER_KEY] == "helpdesk-1"


def test_categories_added_in_outlook_to_our_entry_survive_a_helpdesk_edit(provider, calendar, ews, window):
    ref = provider.create(calendar, visit(marker="helpdesk-2"))
    # Outlook files it under a category and an add-in tags it; our link id stays as it was.
    extended = ews.item(ALICE, ref.remote_id).extended | {CRM_CASE: "CASE-9"}
    ews.outlook_update(ALICE, ref.remote_id, categories=["Customer"], extended=extended)
    base = as_read(provider, calendar, window, ref.remote_id)

    provider.update(calendar, RemoteRef(ref.remote_id, base.version), dataclasses.replace(base, subject="2nd visit"))

    item = ews.item(ALICE, ref.remote_id)
    assert item.subject == "2nd visit"
    assert item.categories == ["Customer"]
    assert item.extended == {CRM_CASE: "CASE-9", MARKER_KEY: "helpdesk-2"}


def test_an_update_that_changes_nothing_sends_no_update(provider, calendar, ews, window):
    item_id = outlook_entry(ews)
    base = as_read(provider, calendar, window, item_id)
    before = len(ews.requests)

    ref = provider.update(calendar, RemoteRef(item_id, base.version), dataclasses.replace(base), base=base)

    assert ews.requests[before:] == []
    assert ref == RemoteRef(item_id, base.version)


def test_a_merge_under_a_stale_change_key_is_still_a_conflict(provider, calendar, ews, window):
    item_id = outlook_entry(ews)
    base = as_read(provider, calendar, window, item_id)
    ews.outlook_update(ALICE, item_id, subject="Dentist (moved)")

    with pytest.raises(VersionConflict):
        provider.update(calendar, RemoteRef(item_id, base.version), dataclasses.replace(base, location="X"), base=base)

    assert ews.item(ALICE, item_id).subject == "Dentist (moved)"


@pytest.mark.django_db
def test_outlook_entry_with_categories_and_its_own_reminder_keeps_both_after_a_helpdesk_edit(
    importing_exchange, ews, django_capture_on_commit_callbacks
):
    from tests.integrations.test_caldav_sync import pull

    item_id = outlook_entry(ews)
    pull(importing_exchange)
    appointment = Appointment.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_appointment(
            appointment, location="Dental clinic", start=appointment.start + HOUR, end=appointment.end + HOUR
        )

    item = ews.item(ALICE, item_id)
    assert (item.location, item.start, item.end) == ("Dental clinic", next_monday(10), next_monday(11))
    assert item.categories == ["Private errands"]
    assert (item.reminder_is_set, item.reminder_minutes) == (True, 60)
    assert item.extended == {CRM_CASE: "CASE-7"}
    assert SyncLink.objects.get().version == item.change_key


def test_renaming_a_series_keeps_its_exceptions_and_costs_one_update(provider, calendar, ews, window):
    from integrations.providers.base import RemoteOccurrence

    from .test_exchange_provider import weekly_series

    first = next_monday()
    moved_from, cancelled = first + timedelta(weeks=1), first + timedelta(weeks=2)
    moved_to = moved_from + timedelta(days=1)
    series = weekly_series(
        exdates=[cancelled],
        overrides=[RemoteOccurrence(original_start=moved_from, start=moved_to, end=moved_to + HOUR)],
    )
    ref = provider.create(calendar, series)
    base = as_read(provider, calendar, window, ref.remote_id)
    before = len(ews.requests)

    new_ref = provider.update(calendar, ref, dataclasses.replace(series, subject="Weekly check (new room)"), base=base)

    assert ews.requests[before:] == ["UpdateItem"]
    view = ews.calendar_view(ALICE, first - timedelta(days=1), first + timedelta(weeks=8))
    assert [entry.start for entry in view] == [first, moved_to] + [first + timedelta(weeks=n) for n in (3, 4, 5)]
    assert {entry.subject for entry in view} == {"Weekly check (new room)"}
    assert new_ref.version == ews.item(ALICE, ref.remote_id).change_key


def test_moving_a_series_in_the_helpdesk_still_moves_every_occurrence(provider, calendar, ews, window):
    from .test_exchange_provider import weekly_series

    series = weekly_series()
    ref = provider.create(calendar, series)
    base = as_read(provider, calendar, window, ref.remote_id)
    later = dataclasses.replace(series, start=series.start + 2 * HOUR, end=series.end + 2 * HOUR)

    provider.update(calendar, ref, later, base=base)

    first = next_monday()
    view = ews.calendar_view(ALICE, first - timedelta(days=1), first + timedelta(weeks=8))
    assert [entry.start for entry in view] == [first + 2 * HOUR + timedelta(weeks=n) for n in range(6)]


def test_a_moved_single_outlook_entry_keeps_its_own_time_zone(provider, calendar, ews, window):
    """Trial L-UTC on Exchange: an entry made in Outlook on New York's zone, moved by a technician
    whose zone is Amsterdam, stays on "Eastern Standard Time" (MS-OXWSCORE StartTimeZone)."""
    item_id = outlook_entry(ews, time_zone="America/New_York")
    base = as_read(provider, calendar, window, item_id)
    assert base.time_zone == "America/New_York"
    edited = dataclasses.replace(base, start=base.start + HOUR, end=base.end + HOUR, time_zone="Europe/Amsterdam")

    provider.update(calendar, RemoteRef(item_id, base.version), edited, base=base)

    item = ews.item(ALICE, item_id)
    assert (item.start_tz, item.end_tz) == ("Eastern Standard Time", "Eastern Standard Time")
    assert (item.start, item.end) == (base.start + HOUR, base.end + HOUR)
