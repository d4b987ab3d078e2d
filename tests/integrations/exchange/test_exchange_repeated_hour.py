"""A single entry in the repeated hour of the autumn change on Exchange (task autumn, fault 2).

exchangelib sends t:Start and t:End as xs:dateTime values with their offset (EWSDateTime.ewsformat:
"...Z" or "+01:00"), so the second 02:30 is said without doubt, provided the EWSDateTime is that
instant: EWSDateTime.from_datetime drops PEP 495's fold, so a value on the zone's clock goes via UTC.
Expected instants: zoneinfo's PEP 495 fold (tests/repeated_hour.py); the stored item read by the
local EWS peer.
"""

import pytest
from exchangelib import EWSTimeZone

from integrations.providers.base import RemoteEvent
from integrations.providers.exchange.mapping import item_values
from tests.repeated_hour import CASES, kept_after_an_edit_elsewhere, night_job

from .conftest import ALICE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("case", CASES)
def test_a_repeated_hour_entry_reaches_exchange_and_comes_back_as_its_own_instants(
    case, alice_exchange, ews, django_capture_on_commit_callbacks
):
    _start, _end, start_utc, end_utc = CASES[case]
    appointment = night_job(case, alice_exchange.agent, django_capture_on_commit_callbacks)
    [item] = ews.items(ALICE)
    assert (item.start, item.end) == (start_utc, end_utc)

    kept_after_an_edit_elsewhere(
        case, appointment, alice_exchange, lambda: ews.outlook_update(ALICE, item.item_id, location="Server room")
    )
    [item] = ews.items(ALICE)
    assert (item.start, item.end) == (start_utc, end_utc)


@pytest.mark.parametrize("case", CASES)
def test_an_entry_read_on_its_zone_goes_to_exchange_as_its_own_instants(case):
    # A value on the zone's clock (as read back from any calendar: fold=1 for the second 02:30),
    # not in UTC as the helpdesk stores it: exchangelib's EWSDateTime.from_datetime drops the fold.
    start, end, start_utc, end_utc = CASES[case]
    values = item_values(RemoteEvent(start=start, end=end, time_zone="Europe/Amsterdam"))

    utc = EWSTimeZone("UTC")
    assert (values["start"].astimezone(utc), values["end"].astimezone(utc)) == (start_utc, end_utc)
    # What goes on the wire: xs:dateTime with the offset of that instant (+01:00 after the change).
    assert values["start"].ewsformat() == start.isoformat()
    assert values["end"].ewsformat() == end.isoformat()
