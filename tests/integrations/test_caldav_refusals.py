"""Review finding 5 on CalDAV: the scenarios of tests/integrations/refusal_scenarios.py against a real
Radicale reached through our fault proxy. The proxy refuses one calendar object as RFC 3744 7.1.1
has it (403 with DAV:need-privileges; its member of a listing with status 403, RFC 4918 13);
Radicale itself takes a calendar's write right away (its rights backend), refusing writes with 403
and reporting the rights left in DAV:current-user-privilege-set (RFC 3744 5.4)."""

from datetime import datetime
from urllib.parse import urlsplit

import pytest

from tests.integrations import refusal_scenarios
from tests.integrations.test_caldav_shared import Phones
from tests.integrations.test_faults import proxied_calendar, proxy  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


class Server(Phones):
    """The technician's phone on Radicale, and the server's refusals (through the proxy) and rights."""

    def __init__(self, radicale, agent_calendar, proxy) -> None:  # noqa: F811 (the fixture's name)
        super().__init__(radicale, agent_calendar, proxy=proxy)
        self.radicale = radicale
        self.calendar_url = radicale.url + agent_calendar.calendar_id.split("/", 3)[3]

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        return super().add(address, subject, start, end)

    def subjects(self, address: str) -> list[str]:
        return sorted(entry["subject"] for entry in self.entries(address))

    def refuse_entry(self, address: str, entry_id: str, *, reads: bool = False) -> None:
        self.proxy.refuse(urlsplit(entry_id).path, reads=reads)

    def drop_write_right(self, address: str) -> None:
        self.radicale.drop_write_right(self.calendar_url)


@refusal_scenarios.each_scenario
def test_refusals_on_caldav(
    scenario,
    radicale,
    proxy,  # noqa: F811
    proxied_calendar,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    scenario(Server(radicale, proxied_calendar, proxy), proxied_calendar, django_capture_on_commit_callbacks)


def test_a_calendar_shared_to_edit_existing_entries_only_is_not_writable(radicale, proxy, proxied_calendar):  # noqa: F811
    """Review 8 L2: the helpdesk creates and deletes entries, so writing a calendar takes DAV:bind and
    DAV:unbind as well as DAV:write-content (RFC 3744 3.2, 3.9, 3.10). A server reporting write-content
    alone (a calendar shared "edit existing only"; here Radicale's answer with DAV:write swapped for it
    on the way) is not writable, so a refused create is the calendar's problem, not an entry's."""
    from integrations.providers import registry
    from integrations.providers.base import RemoteCalendar

    provider = registry.build(proxied_calendar.connection)
    calendar = RemoteCalendar(mailbox=proxied_calendar.mailbox_address, calendar_id=proxied_calendar.calendar_id)
    assert provider.rights(calendar).write

    proxy.rewrite_answers[b"<write />"] = b"<write-content />"
    proxy.rewrite_answers[b"<all />"] = b"<read />"
    rights = provider.rights(calendar)

    assert "write-content" in rights.source and (rights.read, rights.write) == (True, False)
