"""A SyncLink's delete is one conditional statement and keeps the link's sync log (review F4)."""

import pytest

from integrations.models import SyncLink, SyncLogEntry

pytestmark = pytest.mark.django_db


def _logged(link: SyncLink) -> SyncLogEntry:
    return SyncLogEntry.objects.create(
        agent_calendar=link.agent_calendar, link=link, direction=SyncLogEntry.Direction.OUTBOUND, operation="create"
    )


def test_a_deleted_link_leaves_its_log_entries_without_it(alice_calendar):
    link = SyncLink.objects.create(agent_calendar=alice_calendar)
    entry = _logged(link)

    assert SyncLink.objects.filter(pk=link.pk, changes=link.changes).delete() == (1, {"integrations.SyncLink": 1})

    entry.refresh_from_db()
    assert entry.link_id is None
    assert not SyncLink.objects.filter(pk=link.pk).exists()


def test_a_link_changed_since_it_was_read_stays_with_its_log(alice_calendar):
    link = SyncLink.objects.create(agent_calendar=alice_calendar)
    entry = _logged(link)
    read = link.changes
    SyncLink.objects.filter(pk=link.pk).update(changes=read + 1, pending=True)  # the helpdesk's change

    assert SyncLink.objects.filter(pk=link.pk, changes=read).delete() == (0, {})

    entry.refresh_from_db()
    assert entry.link_id == link.pk
    assert SyncLink.objects.get(pk=link.pk).pending


def test_deleting_several_links_empties_only_their_log_entries(alice_calendar):
    gone, kept = (SyncLink.objects.create(agent_calendar=alice_calendar) for _ in range(2))
    gone_entry, kept_entry = _logged(gone), _logged(kept)
    SyncLink.objects.filter(pk=kept.pk).update(changes=1)

    assert SyncLink.objects.filter(pk__in=[gone.pk, kept.pk], changes=0).delete()[0] == 1

    gone_entry.refresh_from_db()
    kept_entry.refresh_from_db()
    assert (gone_entry.link_id, kept_entry.link_id) == (None, kept.pk)
