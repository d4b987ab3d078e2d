"""The shared-appointment scenarios of every connector (tests/integrations/shared_scenarios.py) on
CalDAV: real Radicale, each technician's phone a `caldav` client on their own calendar; what a
phone holds is expanded with recurring-ical-events. An entry the helpdesk writes names no ORGANIZER
and no ATTENDEE (RFC 5546 would make it a scheduling object), so nobody else receives it; an
invitation the owner declined is read from their ATTENDEE line's PARTSTAT (RFC 5545 3.2.12). The
CalDAV-only cases (an occurrence cancelled on a single technician's series, EXDATE while the
helpdesk changed the series, a planned request deleted on the phone, the log naming changed
occurrences) stay in test_shared_attendees.py."""

import uuid
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import icalendar
import pytest
import recurring_ical_events

from tests.integrations import one_technician_scenarios, shared_scenarios
from tests.integrations.conftest import USERS, OtherClient

pytestmark = pytest.mark.django_db

AMSTERDAM = shared_scenarios.AMSTERDAM
CAROL = "carol@example.org"


def _master(calendar: icalendar.Calendar) -> icalendar.Event:
    return next(c for c in calendar.walk("VEVENT") if "RECURRENCE-ID" not in c)


class Phones:
    """Each technician's phone on their own calendar of the local Radicale."""

    def __init__(self, radicale, *agent_calendars, proxy=None) -> None:
        self.url = radicale.url
        # Straight to Radicale, also when the helpdesk reaches it through a fault proxy.
        self.phones = {
            ac.agent.mailbox: OtherClient(
                radicale.url,
                ac.agent.user.username,
                USERS[ac.agent.user.username],
                radicale.url + ac.calendar_id.split("/", 3)[3],
            )
            for ac in agent_calendars
        }
        self.proxy = proxy

    def _event(self, address: str, entry_id: str):
        event = self.phones[address].calendar.event_by_url(urljoin(self.url, entry_id))
        event.load()
        return event

    def entries(self, address: str) -> list[dict]:
        found = []
        for event in self.phones[address].entries():
            master = _master(icalendar.Calendar.from_ical(event.data))
            attendees = master.get("attendee", [])
            found.append(
                {
                    "id": urlsplit(str(event.url)).path,
                    "subject": str(master.get("summary", "")),
                    "body": str(master.get("description", "")),
                    "start": master.decoded("dtstart").astimezone(UTC),
                    "attendees": [str(a) for a in (attendees if isinstance(attendees, list) else [attendees])],
                    "organiser_is_self": str(master.get("organizer", f"mailto:{address}")).lower()
                    == f"mailto:{address}",
                }
            )
        return found

    def view(self, address: str, start: datetime, end: datetime) -> list[tuple]:
        shown = []
        for event in self.phones[address].entries():
            calendar = icalendar.Calendar.from_ical(event.data)
            shown += [
                (o.decoded("dtstart").astimezone(UTC), o.decoded("dtend").astimezone(UTC), str(o.get("summary", "")))
                for o in recurring_ical_events.of(calendar).between(start, end)
            ]
        return sorted(shown)

    def delete(self, address: str, entry_id: str) -> None:
        self._event(address, entry_id).delete()

    def move(self, address: str, entry_id: str, start: datetime, end: datetime, subject: str) -> None:
        event = self._event(address, entry_id)
        calendar = icalendar.Calendar.from_ical(event.data)
        master = _master(calendar)
        for name, value in (("dtstart", start), ("dtend", end), ("summary", subject)):
            master.pop(name, None)
            master.add(name, value)
        event.data = calendar.to_ical().decode()
        event.save()

    def cancel_occurrence(self, address: str, master_id: str, original_start: datetime) -> None:
        """What a phone does for "delete this occurrence": an EXDATE on the series' own entry."""
        event = self._event(address, master_id)
        calendar = icalendar.Calendar.from_ical(event.data)
        _master(calendar).add("exdate", original_start.astimezone(AMSTERDAM))
        event.data = calendar.to_ical().decode()
        event.save()

    def move_occurrence(self, address, master_id, original_start, start, end) -> None:
        """What a phone does for "move this occurrence": a VEVENT with its RECURRENCE-ID (RFC 5545 3.8.4.4)."""
        event = self._event(address, master_id)
        calendar = icalendar.Calendar.from_ical(event.data)
        master = _master(calendar)
        moved = icalendar.Event()
        moved.add("uid", str(master["uid"]))
        moved.add("dtstamp", datetime.now(UTC))
        moved.add("recurrence-id", original_start.astimezone(AMSTERDAM))
        moved.add("dtstart", start.astimezone(AMSTERDAM))
        moved.add("dtend", end.astimezone(AMSTERDAM))
        moved.add("summary", str(master.get("summary", "")))
        calendar.add_component(moved)
        event.data = calendar.to_ical().decode()
        event.save()

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        uid = f"phone-{uuid.uuid4().hex}"
        self.phones[address].add(uid, start, end, subject)
        return urlsplit(str(self.phones[address].by_uid(uid).url)).path

    def invitation(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        """Carol's invitation as a phone stores it (RFC 5546 REQUEST: ORGANIZER and ATTENDEE lines)."""
        uid = f"invite-{uuid.uuid4().hex}"
        extra = f"ORGANIZER:mailto:{CAROL}\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{address}\r\n"
        self.phones[address].add(uid, start, end, subject, extra=extra)
        return urlsplit(str(self.phones[address].by_uid(uid).url)).path

    def decline(self, address: str, entry_id: str) -> None:
        """The phone answers Decline and keeps the entry: the owner's PARTSTAT=DECLINED (RFC 5545 3.2.12)."""
        event = self._event(address, entry_id)
        calendar = icalendar.Calendar.from_ical(event.data)
        master = _master(calendar)
        attendee = master.pop("attendee")
        attendee.params["PARTSTAT"] = "DECLINED"
        master.add("attendee", attendee)
        event.data = calendar.to_ical().decode()
        event.save()

    def lose_answer(self, address: str, operation: str, entry_id: str | None = None, *, times: int = 1) -> None:
        """Through the fault proxy between the helpdesk and Radicale (the phones go straight)."""
        self.proxy.only_methods = {"DELETE"} if operation == "delete" else {"PUT"}
        self.proxy.planned.extend(["drop_after"] * times)

    def answer_again(self) -> None:
        self.proxy.calm()


@shared_scenarios.each_scenario
def test_shared_appointment_on_caldav(
    scenario, radicale, alice_calendar, bob_calendar, django_capture_on_commit_callbacks
):
    phones = Phones(radicale, alice_calendar, bob_calendar)
    scenario(phones, alice_calendar, bob_calendar, django_capture_on_commit_callbacks)


@shared_scenarios.each_conditional_delete
def test_conditional_delete_on_caldav(
    scenario, radicale, alice_calendar, bob_calendar, django_capture_on_commit_callbacks
):
    scenario(
        Phones(radicale, alice_calendar, bob_calendar), alice_calendar, bob_calendar, django_capture_on_commit_callbacks
    )


@one_technician_scenarios.each_scenario
def test_one_technician_on_caldav(scenario, radicale, alice_calendar, django_capture_on_commit_callbacks):
    scenario(Phones(radicale, alice_calendar), alice_calendar, django_capture_on_commit_callbacks)
