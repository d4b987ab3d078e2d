"""A single entry in the repeated hour of the autumn change on Google (task autumn, fault 2).

An EventDateTime's dateTime is RFC 3339 with its offset (calendar v3 "Events" resource), so the
second 02:30 (+01:00) is said without doubt even with timeZone "Europe/Amsterdam". Expected instants:
zoneinfo's PEP 495 fold (tests/repeated_hour.py); the stored event read by the local Google peer.
"""

from datetime import datetime

import pytest

from tests.repeated_hour import CASES, kept_after_an_edit_elsewhere, night_job

from .conftest import ALICE

pytestmark = pytest.mark.django_db


def _stored(google) -> tuple[datetime, datetime]:
    [event] = google.events(ALICE)
    return tuple(datetime.fromisoformat(event[side]["dateTime"].replace("Z", "+00:00")) for side in ("start", "end"))


@pytest.mark.parametrize("case", CASES)
def test_a_repeated_hour_entry_reaches_google_and_comes_back_as_its_own_instants(
    case, alice_google, google, django_capture_on_commit_callbacks
):
    _start, _end, start_utc, end_utc = CASES[case]
    appointment = night_job(case, alice_google.agent, django_capture_on_commit_callbacks)
    assert _stored(google) == (start_utc, end_utc)

    def phone_edit():
        [event] = google.events(ALICE)
        google.phone_patch(ALICE, event["id"], location="Server room")

    kept_after_an_edit_elsewhere(case, appointment, alice_google, phone_edit)
    assert _stored(google) == (start_utc, end_utc)
