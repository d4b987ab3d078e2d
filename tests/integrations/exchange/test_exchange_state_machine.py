"""The two-way sync against the local EWS server through the real exchangelib, as a stateful
property (issue 9): the Exchange twin of tests/integrations/test_sync_state_machine.py.

Hypothesis drives random edits on both sides of one technician's calendar (import on): the
helpdesk through calendars/services.py (tests/integrations/sync_machine.py), Outlook through the
server's outlook_* helpers (create with its own reminder, move, rename, delete, colour categories,
a new ChangeKey with nothing else changed, move or cancel one occurrence), and faults on chosen
operations (dropped before or after the server acts, a CreateItem answered after the client's
timeout, 503 with Retry-After, ErrorServerBusy, a refused SyncState). `sync_until_quiet` then
checks the invariants in sync_machine.py against the server's own state (its items and its
CalendarView expansion, not our mapping code), that Outlook's categories and its own reminder
survive, and that an unchanged poll is one SyncFolderItems.

Budget: the "ci" hypothesis profile (tests/conftest.py); `--hypothesis-profile=long` for more.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule, run_state_machine_as_test

from integrations import services
from integrations.models import Connection
from integrations.providers.exchange import HelpdeskLinkId
from tests.integrations.sync_machine import MACHINE_MARKS, WORDS, Entry, Intent, SyncMachine, token_of, utc
from tests.peers.ews import EwsServer, Item, Recurrence

from .conftest import ALICE, PASSWORD, SERVICE_ACCOUNT

# Our link id on an item, as the server stores extended properties.
MARKER_KEY = (HelpdeskLinkId.property_set_id, HelpdeskLinkId.property_name, "String")

pytestmark = MACHINE_MARKS

OUTLOOK_CATEGORY = "Customer visit"
OUTLOOK_REMINDER = 60
WRITES = ("CreateItem", "UpdateItem", "DeleteItem")


class ExchangeSync(SyncMachine):
    OTHER = "outlook"
    ONE_POLL = Counter({"SyncFolderItems": 1})  # MS-OXWSSYNC: one SyncFolderItems when nothing changed

    def __init__(self, env: dict) -> None:
        super().__init__(env)
        self.ews: EwsServer = env["ews"]
        self.mark = 0
        # The token of every item Outlook made, by the id the server gave it: an imported private
        # item keeps no text in the helpdesk, and once Outlook deletes it the server cannot name it.
        self.outlook_tokens: dict[str, str] = {}

    @initialize()
    def connect(self):
        self.ews.calm()
        self.ews.release.clear()
        self.ews.add_mailbox(ALICE)  # a fresh, empty mailbox for every run
        self.ac = services.connect_agent(self.agent, connection=self.env["connection"])
        self.sync(pull=True)

    # --- hooks ---

    def calm(self) -> None:
        self.ews.calm()
        self.ews.release.clear()

    def reset_counts(self) -> None:
        self.mark = len(self.ews.requests)

    def counts(self) -> Counter:
        return Counter(self.ews.requests[self.mark :])

    def writes(self) -> int:
        counts = self.counts()
        return sum(counts[name] for name in WRITES)

    def token_for_marker(self, marker: str) -> str:
        # An imported entry's marker is its id, until the sync makes it anew in Outlook (modification
        # beats deletion): the new item carries the old id in our extended property.
        for item in self.ews.items(ALICE):
            if item.item_id == marker or item.extended.get(MARKER_KEY) == marker:
                return token_of(item.subject)
        return self.outlook_tokens.get(marker, "")  # gone from Outlook: the id it was made under

    def remote_entries(self) -> dict[str, list[Entry]]:
        """The mailbox as the server holds it; series expanded by the server's own CalendarView."""
        items = {item.item_id: item for item in self.ews.items(ALICE)}
        found: dict[str, Entry] = {}
        for item in items.values():
            found[item.item_id] = Entry(
                token=token_of(item.subject),
                private=item.sensitivity in ("Private", "Confidential"),
                busy=item.free_busy != "Free",
            )
        for occurrence in self.ews.calendar_view(ALICE, *self.window):
            item = items[occurrence.master_id or occurrence.item_id]
            exception = item.modified.get(occurrence.original_start) if occurrence.original_start else None
            location = exception.location if exception and exception.location is not None else item.location
            body = exception.body if exception and exception.body is not None else item.body
            found[item.item_id].instances.append(
                (
                    utc(occurrence.start),
                    utc(occurrence.end),
                    occurrence.subject.strip(),
                    (location or "").strip(),
                    (body or "").strip(),
                )
            )
        by_token: dict[str, list[Entry]] = defaultdict(list)
        for entry in found.values():
            by_token[entry.token].append(entry)
        return by_token

    def _remote(self, *, series: bool | None = None) -> list[tuple[str, Item]]:
        if self._snapshot is None:
            # In an order the steps alone decide (item ids are random), so a replayed run picks
            # the same entries and Hypothesis can shrink a failure.
            self._snapshot = sorted(
                self.ews.items(ALICE), key=lambda item: (token_of(item.subject), item.subject, item.start, item.item_id)
            )
        return [
            (token_of(item.subject), item)
            for item in self._snapshot
            if series is None or (item.recurrence is not None) == series
        ]

    # --- Outlook ---

    @rule(day=st.integers(0, 6), hour=st.integers(0, 9), word=st.sampled_from(WORDS), private=st.booleans())
    def outlook_creates(self, day, hour, word, private):
        token = self._new_token("O")
        start = self._slot(day, hour)
        made = self.ews.outlook_create(
            ALICE,
            subject=f"{token} {word}",
            start=start,
            end=start + timedelta(hours=1),
            location="Room 1",
            body="from Outlook",
            sensitivity="Private" if private else "Normal",
            reminder_minutes=OUTLOOK_REMINDER,
        )
        self.outlook_tokens[made] = token
        self.model[token] = Intent(own_alarm=True)

    @rule(day=st.integers(0, 6), hour=st.integers(0, 9))
    def outlook_creates_a_series(self, day, hour):
        token = self._new_token("R")
        start = self._slot(day, hour)
        made = self.ews.outlook_create(
            ALICE,
            subject=f"{token} gym",
            start=start,
            end=start + timedelta(hours=1),
            location="Gym",
            body="from Outlook",
            reminder_minutes=OUTLOOK_REMINDER,
            recurrence=Recurrence(pattern="DailyRecurrence", range="NumberedRecurrence", count=4),
        )
        self.outlook_tokens[made] = token
        self.model[token] = Intent(own_alarm=True)

    @precondition(lambda self: self._remote(series=False))
    @rule(pick=st.integers(0, 99), hours=st.sampled_from([-1, 2, 24]))
    def outlook_moves(self, pick, hours):
        entries = self._remote(series=False)
        token, item = entries[pick % len(entries)]
        shift = timedelta(hours=hours)
        self.ews.outlook_update(ALICE, item.item_id, start=item.start + shift, end=item.end + shift)
        self.edited(token, self.OTHER)

    @precondition(lambda self: self._remote())
    @rule(pick=st.integers(0, 99), word=st.sampled_from(WORDS))
    def outlook_renames(self, pick, word):
        entries = self._remote()
        token, item = entries[pick % len(entries)]
        self.ews.outlook_update(ALICE, item.item_id, subject=f"{token} {word} (outlook)")
        self.edited(token, self.OTHER)

    @precondition(lambda self: self._remote())
    @rule(pick=st.integers(0, 99))
    def outlook_deletes(self, pick):
        entries = self._remote()
        token, item = entries[pick % len(entries)]
        self.ews.outlook_delete(ALICE, item.item_id)
        self.deleted(token, self.OTHER)

    @precondition(lambda self: self._remote())
    @rule(pick=st.integers(0, 99))
    def outlook_adds_categories(self, pick):
        entries = self._remote()
        token, item = entries[pick % len(entries)]
        self.ews.outlook_update(ALICE, item.item_id, categories=[*item.categories, OUTLOOK_CATEGORY])
        self.model.setdefault(token, Intent()).foreign = True

    @precondition(lambda self: self._remote())
    @rule(pick=st.integers(0, 99))
    def outlook_touches_only_the_version(self, pick):
        """A new ChangeKey and nothing else, as when Outlook dismisses a reminder."""
        entries = self._remote()
        _token, item = entries[pick % len(entries)]
        self.ews.outlook_update(ALICE, item.item_id)

    @precondition(lambda self: self._remote(series=True))
    @rule(pick=st.integers(0, 99), index=st.integers(0, 3), cancel=st.booleans())
    def outlook_edits_an_occurrence(self, pick, index, cancel):
        entries = self._remote(series=True)
        token, item = entries[pick % len(entries)]
        starts = [start for start in item.original_starts() if start not in item.deleted]
        if not starts:
            return
        original = starts[index % len(starts)]
        if cancel:
            self.ews.outlook_cancel_occurrence(ALICE, item.item_id, original)
        else:
            moved = original + timedelta(hours=3)
            self.ews.outlook_move_occurrence(
                ALICE, item.item_id, original, start=moved, end=moved + (item.end - item.start)
            )
        self.edited(token, self.OTHER)

    # --- faults ---

    @rule(
        kind=st.sampled_from(["drop", "drop_after", "answer_late", "busy_with_retry_after", "busy"]),
        operation=st.sampled_from(["CreateItem", "UpdateItem", "DeleteItem", "SyncFolderItems", "GetItem"]),
        times=st.integers(1, 4),
        pull=st.booleans(),
    )
    def sync_through_a_fault(self, kind, operation, times, pull):
        options = {"operation": operation}
        if kind == "answer_late":
            options["operation"], times = "CreateItem", 1  # the create the server completes after our timeout
        elif kind == "busy_with_retry_after":
            options["retry_after"] = 1
        elif kind == "busy":
            options["back_off_ms"] = 500
        self.ews.fail_next(kind, times, **options)
        try:
            self.sync(pull=pull)
        finally:
            self.calm()

    @rule()
    def server_refuses_our_sync_state(self):
        self.ews.refuse_sync_states(ALICE)

    # --- what Outlook owns ---

    def check_nothing_foreign_lost(self):
        for item in self.ews.items(ALICE):
            token = token_of(item.subject)
            intent = self.model.get(token)
            if intent is None:
                continue
            if intent.foreign:
                assert OUTLOOK_CATEGORY in item.categories, f"{token} lost Outlook's category: {item.categories}"
            if intent.own_alarm:
                assert (item.reminder_is_set, item.reminder_minutes) == (True, OUTLOOK_REMINDER), (
                    f"{token} lost Outlook's own reminder: {(item.reminder_is_set, item.reminder_minutes)}"
                )


@pytest.fixture
def late_ews(ews):
    ews.late_seconds = 1.3  # the connection below gives up after 1 s
    return ews


def test_sync_with_exchange_converges_under_random_edits_and_faults(alice, late_ews, calendar_settings):
    alice.import_external = True
    alice.save()
    connection = services.add_connection(
        name="Exchange",
        kind="ews",
        url=late_ews.url,
        username=SERVICE_ACCOUNT,
        secret=PASSWORD,
        options={"version": "2016", "auth_type": "basic", "access_type": "impersonation", "timeout": 5},
    )
    # Below what an admin may set (5 s): a late answer costs the test one second, not five.
    Connection.objects.filter(pk=connection.pk).update(options={**connection.options, "timeout": 1})
    connection.refresh_from_db()
    env = {"agent": alice, "ews": late_ews, "connection": connection}
    run_state_machine_as_test(lambda: ExchangeSync(env), settings=settings())
