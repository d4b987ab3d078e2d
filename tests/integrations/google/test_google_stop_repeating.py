"""A series stopped now reaches Google as one write of the master's recurrence (RRULE with
UNTIL), no cancelled instance per dropped occurrence; what Google holds, expanded by
recurring-ical-events, is the past the helpdesk keeps, the starts from dateutil."""

import pytest

from tests.integrations.series import helpdesk_view_utc, kept_view, stop_a_pushed_series

from .conftest import ALICE
from .test_google_sync import google_view

pytestmark = pytest.mark.django_db


def test_a_stopped_series_reaches_google_as_a_rule_change(alice_google, google, django_capture_on_commit_callbacks):
    mark = []
    _master, kept, window = stop_a_pushed_series(
        alice_google,
        django_capture_on_commit_callbacks,
        lambda: mark.append((len(google.requests), len(google.batch_parts))),
    )

    calls = [call for call in google.requests[mark[0][0] :] + google.batch_parts[mark[0][1] :] if "/events" in call]
    assert not [call for call in calls if call.startswith("DELETE")], calls
    assert len([call for call in calls if call.startswith(("PUT", "PATCH"))]) == 1, calls
    (event,) = google.events(ALICE, with_cancelled=True)
    assert any(line.startswith("RRULE:") and "UNTIL=" in line for line in event["recurrence"])
    assert google_view(google, *window) == kept_view(kept) == helpdesk_view_utc(*window)
