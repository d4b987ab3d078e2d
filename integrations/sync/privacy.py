"""The privacy rule (calendars.privacy) where data enters from an external calendar.

An entry the external calendar marks private (`RemoteEvent.private`, `RemoteOccurrence.private`:
iCalendar CLASS PRIVATE/CONFIDENTIAL, EWS Sensitivity, Graph sensitivity, Google visibility) is
stored as busy time only, whenever it becomes so: on import, on a pull, on a later flip. What the
helpdesk keeps of its text for a merge-update lives only in the sync link's sealed snapshot
(`integrations.fields.SealedSnapshotField`); the sync log records "(private)".

The engine and inbound call these; none talks to an external system.
"""

from __future__ import annotations

from calendars import privacy as rule
from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.providers.base import RemoteEvent, RemoteOccurrence

PRIVATE_LABEL = rule.PRIVATE_LABEL
_TEXT_KEYS = ("subject", "body", "location")


def event_is_private(event: RemoteEvent | dict | None) -> bool:
    """Whether any part of an entry (the series, or one of its occurrences) is marked private.

    Takes a RemoteEvent or its snapshot data (`mapping.to_data`)."""
    if event is None:
        return False
    if isinstance(event, dict):
        return bool(event.get("private")) or any(o.get("private") for o in event.get("overrides") or [])
    return bool(event.private) or any(o.private for o in event.overrides)


def link_is_private(link) -> bool:
    """Whether a sync link's entry, on either side as last synced, is marked private anywhere."""
    return snapshot_is_private(link.snapshot)


def snapshot_is_private(snapshot: dict | None) -> bool:
    """Whether a link's snapshot ({"local": data, "remote": data, ...}) is private on either side."""
    snapshot = snapshot or {}
    return event_is_private(snapshot.get("remote")) or event_is_private(snapshot.get("local"))


def override_hidden(master: Appointment, override: RemoteOccurrence) -> bool:
    """Whether an occurrence's own text must not be stored: an imported series (source EXTERNAL)
    that is private, or whose occurrence is private on its own. The helpdesk's own series keeps its
    texts whether private or not, as its master does (`inbound.apply_remote_update`) and as its
    occurrences do (`apply_to_occurrence`): the external calendar shows them, so the helpdesk holds
    what an exception there shows on its own (the series' text or the exception's own)."""
    if master.source != Appointment.Source.EXTERNAL:
        return False
    return bool(master.private) or bool(override.private)


def blank(appointment: Appointment) -> Appointment:
    """Keep a private entry as busy time only, and wipe what the sync log holds of its text."""
    from integrations import services

    appointment = calendar_services.hide_text(appointment)
    services.forget_private_text(appointment)
    return appointment


def apply_to_occurrence(occurrence: Appointment, master: Appointment, override: RemoteOccurrence) -> Appointment:
    """Bring one occurrence's privacy in step with its override in the external calendar:
    marked private alone (a RECURRENCE-ID override with CLASS:PRIVATE, now or later): busy time
    without text; no longer marked so: the override's text (or the series') comes back."""
    if master.private or occurrence.source != Appointment.Source.EXTERNAL:
        return occurrence  # a private series is blanked whole; the helpdesk's own entries keep theirs
    if override.private:
        if not occurrence.private or any(getattr(occurrence, name) for name in rule.TEXT_FIELDS):
            occurrence = calendar_services.hide_text(occurrence, with_occurrences=False)
            from integrations import services

            services.forget_private_text(master, subject=False)  # the series' own subject is public
        return occurrence
    if occurrence.private:
        return calendar_services.show_text(
            occurrence,
            subject=(override.subject or "").strip() or master.subject,
            note=override.body if override.body is not None else master.note,
            location=override.location if override.location is not None else master.location,
        )
    return occurrence


def masked_values(values: dict | None, *, private: bool) -> dict | None:
    """A conflict's overwritten values (`mapping.lost_values`) fit for the sync log: a private
    entry's texts (its occurrences' included) become "(private)"."""
    if not values or not private:
        return values
    masked = {key: (PRIVATE_LABEL if key in _TEXT_KEYS and value else value) for key, value in values.items()}
    if "overrides" in masked:
        masked["overrides"] = [
            {key: (PRIVATE_LABEL if key in _TEXT_KEYS and value else value) for key, value in o.items()}
            for o in masked["overrides"] or []
        ]
    return masked
