"""The two-way sync against the local Graph server through the real msal and requests, as a stateful
property (issue 9's machine, tests/integrations/sync_machine.py): the Microsoft 365 twin of the
CalDAV and Exchange machines.

Hypothesis drives random edits on both sides: the helpdesk through calendars/services.py, Outlook
through the server's outlook_* helpers (create with its own reminder, a daily series, move, rename,
delete, categories, a new changeKey alone, move or cancel one occurrence), and faults (429/503 with
Retry-After, 500, an answer lost after the server acted, a refused delta link). The invariants are
checked against the server's own state and its own series expansion, that Outlook's categories and
reminder survive, and that an unchanged poll is one calendarView/delta request.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule, run_state_machine_as_test

from integrations import services
from integrations.providers.graph.mapping import MARKER_PROPERTY_ID
from tests.integrations.sync_machine import MACHINE_MARKS, WORDS, Entry, Intent, SyncMachine, token_of, utc
from tests.peers.graph import GraphServer, graph_time, operation_name

from .conftest import ALICE, CLIENT_ID, SECRET, TENANT

pytestmark = MACHINE_MARKS

OUTLOOK_CATEGORY = "Customer visit"
OUTLOOK_REMINDER = 60
WRITE_METHODS = ("POST", "PATCH", "DELETE")


class GraphSync(SyncMachine):
    OTHER = "outlook"
    ONE_POLL = Counter({"delta": 1})  # one calendarView/delta round with its deltaLink when nothing changed

    def __init__(self, env: dict) -> None:
        super().__init__(env)
        self.graph: GraphServer = env["graph"]
        self.mark = self.batch_mark = 0
        # The token of every entry Outlook made, by the id the server gave it: an imported private
        # entry keeps no text in the helpdesk, and once Outlook deletes it the server cannot name it.
        self.outlook_tokens: dict[str, str] = {}

    @initialize()
    def connect(self):
        self.graph.calm()
        self.graph.add_mailbox(ALICE)  # a fresh, empty mailbox for every run
        self.ac = services.connect_agent(self.agent, connection=self.env["connection"])
        self.sync(pull=True)

    # --- hooks ---

    def calm(self) -> None:
        self.graph.calm()
        self.graph.faults.clear()
        self.graph.drop_next.clear()

    def reset_counts(self) -> None:
        self.mark, self.batch_mark = len(self.graph.requests), len(self.graph.batch_items)

    def counts(self) -> Counter:
        return Counter(operation_name(method, path) for method, path, _ in self.graph.requests[self.mark :])

    def writes(self) -> int:
        direct = [r for r in self.graph.requests[self.mark :] if r[0] in WRITE_METHODS and "/events" in r[1]]
        batched = [item for item in self.graph.batch_items[self.batch_mark :] if item[0] in WRITE_METHODS]
        return len(direct) + len(batched)

    def token_for_marker(self, marker: str) -> str:
        # An imported entry's marker is its id, until the sync makes it anew in Outlook (modification
        # beats deletion): the new entry carries the old id as our marker property
        # (test_graph_regressions.py).
        for event in self.graph.events(ALICE):
            props = {p["id"].lower(): p["value"] for p in event.get("singleValueExtendedProperties", [])}
            if event["id"] == marker or props.get(MARKER_PROPERTY_ID.lower()) == marker:
                return token_of(event["subject"])
        return self.outlook_tokens.get(marker, "")  # gone from Outlook: the id it was made under

    def remote_entries(self) -> dict[str, list[Entry]]:
        """The mailbox as the server holds it; series expanded by the server itself."""
        events = {event["id"]: event for event in self.graph.events(ALICE)}
        found: dict[str, Entry] = {}
        for event in events.values():
            found[event["id"]] = Entry(
                token=token_of(event["subject"]),
                private=event.get("sensitivity") in ("private", "confidential"),
                busy=event.get("showAs") != "free",
            )
        for shown in self.graph.calendar_view(ALICE, *self.window):
            master = events[shown["id"].split("_OID_")[0]]
            fields = shown.get("_fields") or {}
            location = (fields.get("location") or master.get("location") or {}).get("displayName") or ""
            body = (fields.get("body") or master.get("body") or {}).get("content") or ""
            found[master["id"]].instances.append(
                (utc(shown["_start"]), utc(shown["_end"]), shown["subject"].strip(), location.strip(), body.strip())
            )
        by_token: dict[str, list[Entry]] = defaultdict(list)
        for entry in found.values():
            by_token[entry.token].append(entry)
        return by_token

    def _remote(self, *, series: bool | None = None) -> list[tuple[str, dict]]:
        if self._snapshot is None:
            # In an order the steps alone decide (ids are random, and $batch items run in parallel),
            # so a replayed run picks the same entries and Hypothesis can shrink a failure.
            self._snapshot = sorted(
                self.graph.events(ALICE),
                key=lambda event: (token_of(event["subject"]), event["subject"], event["_start"], event["id"]),
            )
        return [
            (token_of(event["subject"]), event)
            for event in self._snapshot
            if series is None or (event.get("type") == "seriesMaster") == series
        ]

    # --- Outlook ---

    def _outlook_fields(self, private: bool = False) -> dict:
        return {
            "location": "Room 1",
            "body": {"contentType": "text", "content": "from Outlook"},
            "sensitivity": "private" if private else "normal",
            "isReminderOn": True,
            "reminderMinutesBeforeStart": OUTLOOK_REMINDER,
        }

    @rule(day=st.integers(0, 6), hour=st.integers(0, 9), word=st.sampled_from(WORDS), private=st.booleans())
    def outlook_creates(self, day, hour, word, private):
        token = self._new_token("O")
        start = self._slot(day, hour)
        made = self.graph.outlook_add(
            ALICE,
            start,
            start + timedelta(hours=1),
            f"{token} {word}",
            time_zone="W. Europe Standard Time",
            **self._outlook_fields(private),
        )
        self.outlook_tokens[made["id"]] = token
        self.model[token] = Intent(own_alarm=True)

    @rule(day=st.integers(0, 6), hour=st.integers(0, 9))
    def outlook_creates_a_series(self, day, hour):
        token = self._new_token("R")
        start = self._slot(day, hour)
        recurrence = {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 4, "startDate": start.date().isoformat()},
        }
        fields = self._outlook_fields() | {"location": "Gym"}
        made = self.graph.outlook_add(
            ALICE,
            start,
            start + timedelta(hours=1),
            f"{token} gym",
            time_zone="W. Europe Standard Time",
            recurrence=recurrence,
            **fields,
        )
        self.outlook_tokens[made["id"]] = token
        self.model[token] = Intent(own_alarm=True)

    @precondition(lambda self: self._remote(series=False))
    @rule(pick=st.integers(0, 99), hours=st.sampled_from([-1, 2, 24]))
    def outlook_moves(self, pick, hours):
        entries = self._remote(series=False)
        token, event = entries[pick % len(entries)]
        shift = timedelta(hours=hours)
        zone = event.get("originalStartTimeZone") or "UTC"
        self.graph.outlook_edit(
            ALICE,
            event["id"],
            start=graph_time(event["_start"] + shift, zone),
            end=graph_time(event["_end"] + shift, zone),
        )
        self.edited(token, self.OTHER)

    @precondition(lambda self: self._remote())
    @rule(pick=st.integers(0, 99), word=st.sampled_from(WORDS))
    def outlook_renames(self, pick, word):
        entries = self._remote()
        token, event = entries[pick % len(entries)]
        self.graph.outlook_edit(ALICE, event["id"], subject=f"{token} {word} (outlook)")
        self.edited(token, self.OTHER)

    @precondition(lambda self: self._remote())
    @rule(pick=st.integers(0, 99))
    def outlook_deletes(self, pick):
        entries = self._remote()
        token, event = entries[pick % len(entries)]
        self.graph.outlook_delete(ALICE, event["id"])
        self.deleted(token, self.OTHER)

    @precondition(lambda self: self._remote())
    @rule(pick=st.integers(0, 99))
    def outlook_adds_categories(self, pick):
        entries = self._remote()
        token, event = entries[pick % len(entries)]
        self.graph.outlook_edit(ALICE, event["id"], categories=[*event.get("categories", []), OUTLOOK_CATEGORY])
        self.model.setdefault(token, Intent()).foreign = True

    @precondition(lambda self: self._remote())
    @rule(pick=st.integers(0, 99))
    def outlook_touches_only_the_version(self, pick):
        """A new changeKey and nothing else, as when Outlook dismisses a reminder."""
        entries = self._remote()
        _token, event = entries[pick % len(entries)]
        self.graph.outlook_edit(ALICE, event["id"])

    @precondition(lambda self: self._remote(series=True))
    @rule(pick=st.integers(0, 99), index=st.integers(0, 3), cancel=st.booleans())
    def outlook_edits_an_occurrence(self, pick, index, cancel):
        entries = self._remote(series=True)
        token, event = entries[pick % len(entries)]
        view = [o for o in self.graph.calendar_view(ALICE, *self.window) if o["id"].startswith(event["id"] + "_OID_")]
        if not view:
            return
        occurrence = view[index % len(view)]
        if cancel:
            self.graph.outlook_delete(ALICE, occurrence["id"])
        else:
            moved = occurrence["_original"] + timedelta(hours=3)
            self.graph.outlook_edit(
                ALICE,
                occurrence["id"],
                start=graph_time(moved, "UTC"),
                end=graph_time(moved + (occurrence["_end"] - occurrence["_start"]), "UTC"),
            )
        self.edited(token, self.OTHER)

    # --- faults ---

    @rule(
        kind=st.sampled_from(["429", "503", "500", "lost_answer"]),
        where=st.sampled_from(["/$batch", "/calendarView/delta", "/events/"]),
        times=st.integers(1, 4),
        pull=st.booleans(),
    )
    def sync_through_a_fault(self, kind, where, times, pull):
        if kind == "lost_answer":
            self.graph.drop_next.append(where)
        else:
            codes = {"429": "ApplicationThrottled", "503": "ServiceUnavailable", "500": "InternalServerError"}
            self.graph.fail(int(kind), codes[kind], times=times, retry_after="0" if kind != "500" else None, path=where)
        try:
            self.sync(pull=pull)
        finally:
            self.calm()

    @rule()
    def server_refuses_our_delta_link(self):
        self.graph.expire_delta_tokens()

    # --- what Outlook owns ---

    def check_nothing_foreign_lost(self):
        for event in self.graph.events(ALICE):
            token = token_of(event["subject"])
            intent = self.model.get(token)
            if intent is None:
                continue
            if intent.foreign:
                assert OUTLOOK_CATEGORY in event.get("categories", []), f"{token} lost Outlook's category"
            if intent.own_alarm:
                assert (event.get("isReminderOn"), event.get("reminderMinutesBeforeStart")) == (
                    True,
                    OUTLOOK_REMINDER,
                ), f"{token} lost Outlook's own reminder"


def test_sync_with_microsoft_365_converges_under_random_edits_and_faults(alice, graph, calendar_settings):
    alice.import_external = True
    alice.save()
    connection = services.add_connection(
        name="Microsoft 365",
        kind="graph",
        url=graph.base_url,
        username=CLIENT_ID,
        secret=SECRET,
        options={"tenant_id": TENANT, "authority": graph.authority, "ca_bundle": str(graph.ca_path), "timeout": 5},
    )
    env = {"agent": alice, "graph": graph, "connection": connection}
    run_state_machine_as_test(lambda: GraphSync(env), settings=settings())
