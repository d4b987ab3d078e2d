"""Review finding 5 on Exchange (EWS): the scenarios of tests/integrations/refusal_scenarios.py
against the local EWS server, which refuses one item with ErrorAccessDenied in that item's own
ResponseMessage (MS-OXWS 3.1.4) and, for a folder the account may only read (Reviewer), says so in
GetFolder's EffectiveRights (MS-OXWSCDATA 2.2.4.32) and refuses every write there."""

from datetime import datetime

import pytest

from tests.integrations import refusal_scenarios

pytestmark = pytest.mark.django_db


class Exchange:
    def __init__(self, ews) -> None:
        self.ews = ews

    def add(self, address: str, subject: str, start: datetime, end: datetime) -> str:
        return self.ews.outlook_create(address, subject=subject, start=start, end=end)

    def subjects(self, address: str) -> list[str]:
        return sorted(item.subject for item in self.ews.items(address))

    def refuse_entry(self, address: str, entry_id: str, *, reads: bool = False) -> None:
        self.ews.refuse_item(address, entry_id, reads=reads)

    def drop_write_right(self, address: str) -> None:
        self.ews.drop_write_right(address)


@refusal_scenarios.each_scenario
def test_refusals_on_exchange(scenario, ews, alice_exchange, django_capture_on_commit_callbacks):
    scenario(Exchange(ews), alice_exchange, django_capture_on_commit_callbacks)
