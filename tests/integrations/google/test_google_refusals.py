"""Review finding 5 on Google Calendar: the scenarios of tests/integrations/refusal_scenarios.py
against the local Google server, which refuses one event's changes with 403
forbiddenForNonOrganizer, or with a reason that does not say whose refusal it is ("forbidden"), and
a calendar shared read-only with 403 requiredAccessLevel on every event write and accessRole
"reader" in the calendar list (calendar v3 "Handle API errors", CalendarList resource).

Not run here: a refused read of one event in a listing. events.list gives every event of the
calendar in its answer (a private one with fewer fields for a reader), so Google has no per-event
read refusal there; a read of one event (events.get, a series' master) refused with 403 is read as
that entry's (`GoogleProvider._refusal`), as the other connectors read it."""

from datetime import datetime

import pytest

from tests.integrations import refusal_scenarios

from .test_google_sync import when

pytestmark = pytest.mark.django_db


class GoogleCalendar:
    def __init__(self, google, reason: str = "") -> None:
        self.google = google
        self.reason = reason

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        return self.google.phone_insert(address, summary=subject, start=when(start), end=when(end))["id"]

    def subjects(self, address: str) -> list[str]:
        return sorted(event["summary"] for event in self.google.events(address) if event.get("status") != "cancelled")

    def refuse_entry(self, address: str, entry_id: str, *, reads: bool = False) -> None:
        self.google.refuse_event(address, entry_id, reads=reads, reason=self.reason)

    def drop_write_right(self, address: str) -> None:
        self.google.drop_write_right(address)


WRITES = [
    s for s in refusal_scenarios.SCENARIOS if s is not refusal_scenarios.a_refused_read_leaves_that_entry_out_alone
]


@pytest.mark.parametrize("scenario", WRITES, ids=lambda s: s.__name__)
@pytest.mark.parametrize("reason", ["", "forbidden"], ids=["forbiddenForNonOrganizer", "forbidden"])
def test_refusals_on_google(scenario, reason, google, alice_google, django_capture_on_commit_callbacks):
    scenario(GoogleCalendar(google, reason), alice_google, django_capture_on_commit_callbacks)
