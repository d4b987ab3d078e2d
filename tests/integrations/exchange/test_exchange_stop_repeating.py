"""A series stopped now reaches Exchange as one UpdateItem of its recurrence (an end date), no
DeleteItem per dropped occurrence; what Outlook shows (the EWS server's own expansion) is the
past the helpdesk keeps, the starts from dateutil."""

import pytest

from tests.integrations.series import check_stopped_as_rule_change, stop_a_pushed_series

from .conftest import ALICE
from .test_exchange_series_moved import outlook_view

pytestmark = pytest.mark.django_db


def test_a_stopped_series_reaches_exchange_as_a_rule_change(alice_exchange, ews, django_capture_on_commit_callbacks):
    kept, window, (sent,) = stop_a_pushed_series(alice_exchange, django_capture_on_commit_callbacks, ews.requests)

    updates, deletes = [op for op in sent if op == "UpdateItem"], [op for op in sent if op == "DeleteItem"]
    check_stopped_as_rule_change(updates, deletes, outlook_view(ews, *window), kept, window)
    assert len([item for item in ews.items(ALICE) if item.is_master]) == 1
