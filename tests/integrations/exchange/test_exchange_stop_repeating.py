"""A series stopped now reaches Exchange as one UpdateItem of its recurrence (an end date), no
DeleteItem per dropped occurrence; what Outlook shows (the EWS server's own expansion) is the
past the helpdesk keeps, the starts from dateutil."""

import pytest

from tests.integrations.series import helpdesk_view_utc, kept_view, stop_a_pushed_series

from .test_exchange_series_moved import outlook_view

pytestmark = pytest.mark.django_db


def test_a_stopped_series_reaches_exchange_as_a_rule_change(alice_exchange, ews, django_capture_on_commit_callbacks):
    mark = []
    _master, kept, window = stop_a_pushed_series(
        alice_exchange, django_capture_on_commit_callbacks, lambda: mark.append(len(ews.requests))
    )

    sent = ews.requests[mark[0] :]
    assert "DeleteItem" not in sent and sent.count("UpdateItem") == 1, sent
    assert outlook_view(ews, *window) == kept_view(kept) == helpdesk_view_utc(*window)
    assert len([item for item in ews.items("alice@example.com") if item.is_master]) == 1
