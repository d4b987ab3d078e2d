"""The one privacy rule (S2.5, S5): where an appointment's text may be shown, and what stands in.

An entry imported from an external calendar that the calendar marks private is busy time only:
its subject, note, location, other attendees and request are shown to nobody, whatever their
role, on pages, in the API, in feeds, in e-mail, in admin and in logs. The external calendar
marks an entry private by
- iCalendar `CLASS:PRIVATE` or `CLASS:CONFIDENTIAL` (RFC 5545 3.8.1.3), on a series, on one
  occurrence (a RECURRENCE-ID override), or later (a flip in the other client);
- Exchange `Sensitivity` Private/Confidential (EWS, MS-OXPROPS PidLidSensitivity);
- Microsoft Graph `sensitivity` private/confidential (event resource);
- Google Calendar `visibility` private/confidential (Events resource).
The providers' mappings turn each of those into `RemoteEvent.private` / `RemoteOccurrence.private`;
`integrations.sync.privacy` applies the rule where data enters, this module where it leaves.

An appointment the helpdesk made and marked private is not hidden: its text is the helpdesk's
own, and the private flag only goes to the external calendar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calendars.models import Appointment

# What pages and the API show instead of the subject (S2.5).
DATA_UNAVAILABLE = "Data unavailable"
# What feeds show as the summary of a busy block (a phone shows it as the entry's title).
BUSY_SUMMARY = "Busy"
# What the sync log and Python log records say instead of a private entry's subject.
PRIVATE_LABEL = "(private)"
# Fields that hold an entry's own text, blanked on a hidden appointment.
TEXT_FIELDS = ("subject", "note", "location")


def is_hidden(appointment: Appointment) -> bool:
    """Whether only the appointment's time may be shown: an imported entry marked private.

    Occurrences carry their own flag: a private occurrence of a public series is hidden, and the
    occurrences of a private series are private too (they share the master's fields).
    """
    from calendars.models import Appointment

    return bool(appointment.private) and appointment.source == Appointment.Source.EXTERNAL


def shown(appointment: Appointment) -> dict[str, object]:
    """The appointment's text as anyone may see it: {"subject", "note", "location",
    "other_attendees", "request_id"}; for a hidden appointment the subject is "Data unavailable"
    and the rest is empty. Pages, API, e-mail and admin all read text through this."""
    if is_hidden(appointment):
        return {"subject": DATA_UNAVAILABLE, "note": "", "location": "", "other_attendees": [], "request_id": None}
    return {
        "subject": appointment.subject,
        "note": appointment.note,
        "location": appointment.location,
        "other_attendees": list(appointment.other_attendees or []),
        "request_id": appointment.request_id,
    }


def shown_subject(appointment: Appointment) -> str:
    """The subject anyone may see: "Data unavailable" for a hidden appointment."""
    return DATA_UNAVAILABLE if is_hidden(appointment) else appointment.subject


def label(subject: str | None, *, private: bool) -> str:
    """A subject for a log line: "(private)" for a private entry, else the subject itself."""
    return PRIVATE_LABEL if private else (subject or "")
