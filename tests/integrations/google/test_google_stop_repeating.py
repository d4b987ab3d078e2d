"""A series stopped now reaches Google as one write of the master's recurrence (RRULE with
UNTIL), no deletion or cancelled instance per dropped occurrence; what Google holds, expanded by
recurring-ical-events, is the past the helpdesk keeps, the starts from dateutil."""

import pytest

from tests.integrations.series import check_stopped_as_rule_change, stop_a_pushed_series

from .conftest import ALICE
from .test_google_sync import google_view

pytestmark = pytest.mark.django_db


def test_a_stopped_series_reaches_google_as_a_rule_change(alice_google, google, django_capture_on_commit_callbacks):
    kept, window, (sent, batched) = stop_a_pushed_series(
        alice_google, django_capture_on_commit_callbacks, google.requests, google.batch_parts
    )

    calls = [call for call in sent + batched if "/events" in call]
    updates = [call for call in calls if call.startswith(("PUT", "PATCH"))]
    deletes = [call for call in calls if call.startswith("DELETE")]
    check_stopped_as_rule_change(updates, deletes, google_view(google, *window), kept, window)
    (event,) = google.events(ALICE, with_cancelled=True)  # no cancelled instance either
    assert any(line.startswith("RRULE:") and "UNTIL=" in line for line in event["recurrence"])
