"""The helpdesk half of the sync state machines (issue 9), shared by every connector's machine.

A connector's machine (tests/integrations/test_sync_state_machine.py for CalDAV,
tests/integrations/exchange/test_exchange_state_machine.py for Exchange) adds the other client's
rules, the faults, and an independent reading of the server; this base holds the helpdesk's
rules (through calendars/services.py), the model of what people did, and `sync_until_quiet` with
the invariants every connector must keep:
- both sides hold the same entries with the same occurrences, times, texts and flags;
- no entry twice on either side;
- nothing the helpdesk does not own was lost (checked by the connector's machine);
- an entry deleted on one side and not edited on the other is gone from both; one nobody deleted
  is on both;
- a sync is idempotent: the sync after a fault-free sync writes nothing, and the next poll is the
  system's one incremental request.

Every entry's subject starts with a token naming it ("H3 visit"), so each side can be read on its
own and the two readings compared.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from calendars import services as calendar_services
from calendars.models import Appointment
from integrations.models import AgentCalendar, SyncLink
from integrations.providers.base import ProviderError
from integrations.sync import engine

ZONE = ZoneInfo("Europe/Amsterdam")
WORDS = ("visit", "repair", "call", "install")
QUIET_WITHIN = 6  # fault-free syncs after which a sync must write nothing (it should take one)

# The long profile (--hypothesis-profile=long) runs for many minutes: pytest-timeout's 300 s would
# kill it inside an example, before its teardown rolls the database back, and the next examples would
# start from what that one left (failures no steps explain, then Hypothesis's FlakyStrategyDefinition).
LONG_RUN = settings().max_examples > 100
MACHINE_MARKS = [pytest.mark.slow, pytest.mark.django_db, pytest.mark.timeout(0 if LONG_RUN else 300)]


def utc(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def token_of(subject: str) -> str:
    return (subject or "").strip().split(" ", 1)[0]


@dataclass
class Entry:
    """One entry as one side holds it: its occurrences (start, end, subject, location, text) and flags."""

    token: str
    instances: list[tuple] = field(default_factory=list)
    private: bool = False
    busy: bool = True
    hidden: bool = False  # an imported private entry: the helpdesk keeps its time only (S2.5)

    def comparable(self, hidden: bool) -> tuple:
        rows = sorted((start, end) if hidden else (start, end, *texts) for start, end, *texts in self.instances)
        return tuple(rows), self.private, self.busy


@dataclass
class Intent:
    """What the people on both sides did to one entry since the last quiet point."""

    alive: bool = True
    deleted_by: str | None = None
    edited_by: set[str] = field(default_factory=set)
    foreign: bool = False  # the other client added categories (and an X- property where it can)
    own_alarm: bool = False  # the other client's own alarm / reminder, on an entry it made


class SyncMachine(RuleBasedStateMachine):
    """Subclasses set OTHER (the other client's name in the model), ONE_POLL (the requests of an
    unchanged incremental poll) and implement the hooks below."""

    OTHER = "other"
    ONE_POLL: Counter = Counter()

    def __init__(self, env: dict) -> None:
        super().__init__()
        self.env = env
        self.agent = env["agent"]
        self.savepoint = transaction.savepoint()
        self.counter = 0
        self.model: dict[str, Intent] = {}
        self.base = (timezone.now().astimezone(ZONE) + timedelta(days=2)).replace(
            hour=8, minute=0, second=0, microsecond=0
        )
        self.window = (self.base - timedelta(days=2), self.base + timedelta(days=40))
        self.ac: AgentCalendar | None = None
        self._snapshot = None

    # --- hooks for the connector ---

    def calm(self) -> None:
        """No more faults."""
        raise NotImplementedError

    def reset_counts(self) -> None:
        raise NotImplementedError

    def counts(self) -> Counter:
        """Requests the server saw since reset_counts(), by method or operation."""
        raise NotImplementedError

    def writes(self) -> int:
        raise NotImplementedError

    def remote_entries(self) -> dict[str, list[Entry]]:
        """The server's entries, read without our mapping code, by token."""
        raise NotImplementedError

    def token_for_marker(self, marker: str) -> str:
        """The token of an imported entry whose subject the helpdesk does not keep (private)."""
        raise NotImplementedError

    def check_nothing_foreign_lost(self) -> None:
        raise NotImplementedError

    # --- plumbing ---

    def teardown(self):
        try:
            if self.ac is not None:
                self.sync_until_quiet()  # the invariants hold at the end of every run
        finally:
            self.calm()
            transaction.savepoint_rollback(self.savepoint)

    @invariant()
    def forget_what_was_read(self):
        """Each step reads the server afresh (the preconditions of one step share one reading)."""
        self._snapshot = None

    def sync(self, *, pull: bool):
        with contextlib.suppress(ProviderError):
            return engine.sync_agent_calendar(AgentCalendar.objects.get(pk=self.ac.pk), pull=pull)
        return None

    def _new_token(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _slot(self, day: int, hour: int) -> datetime:
        return self.base + timedelta(days=day, hours=hour)

    def local_token(self, appointment: Appointment) -> str:
        """The token an appointment was made under: from its subject, else from its sync marker. An
        entry that came back as a private import (no text) after the helpdesk deleted it keeps its
        marker; once the other side deletes it too, the server can no longer name it, so every
        marker named once is remembered (`marker_tokens`)."""
        known = self.__dict__.setdefault("marker_tokens", {})
        token = token_of(appointment.subject)
        marker = SyncLink.objects.filter(appointment=appointment).values_list("marker", flat=True).first() or ""
        if not token:
            token = self.token_for_marker(marker) or known.get(marker, "")
        if token and marker:
            known[marker] = token
        return token or "?"

    def _local(self, *, series: bool | None = None, visible_text: bool = False) -> list[tuple[str, Appointment]]:
        found = []
        for appointment in Appointment.objects.filter(agents=self.agent, master__isnull=True).order_by("pk"):
            if series is not None and appointment.is_recurring_master != series:
                continue
            if visible_text and not appointment.subject.strip():
                continue
            found.append((self.local_token(appointment), appointment))
        return found

    def local_entries(self) -> dict[str, list[Entry]]:
        """Every appointment of the technician (a series: its master's visible occurrences)."""
        found: dict[str, list[Entry]] = defaultdict(list)
        for token, appointment in self._local():
            hidden = appointment.private and appointment.source == Appointment.Source.EXTERNAL
            rows = [appointment]
            if appointment.is_recurring_master:
                rows = list(Appointment.objects.visible().filter(master=appointment))
            entry = Entry(token=token, private=appointment.private, busy=appointment.busy, hidden=hidden)
            for row in rows:
                entry.instances.append(
                    (utc(row.start), utc(row.end), row.subject.strip(), row.location.strip(), row.note.strip())
                )
            found[token].append(entry)
        return found

    def edited(self, token: str, side: str) -> None:
        self.model.setdefault(token, Intent()).edited_by.add(side)

    def deleted(self, token: str, side: str) -> None:
        intent = self.model.setdefault(token, Intent())
        intent.deleted_by = intent.deleted_by or side
        if side == self.OTHER:
            intent.foreign = intent.own_alarm = False

    # --- the helpdesk ---

    @rule(day=st.integers(0, 6), hour=st.integers(0, 9), word=st.sampled_from(WORDS), room=st.booleans())
    def helpdesk_creates(self, day, hour, word, room):
        token = self._new_token("H")
        start = self._slot(day, hour)
        calendar_services.create_appointment(
            subject=f"{token} {word}",
            start=start,
            end=start + timedelta(hours=1),
            agents=[self.agent],
            note=f"note {word}",
            location="Room 2" if room else "",
        )
        self.model[token] = Intent()

    @rule(day=st.integers(0, 6), hour=st.integers(0, 9))
    def helpdesk_creates_a_series(self, day, hour):
        token = self._new_token("S")
        start = self._slot(day, hour)
        calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=DAILY;COUNT=4",
            agents=[self.agent],
            start=start,
            end=start + timedelta(hours=1),
            subject=f"{token} stand-up",
        )
        self.model[token] = Intent()

    @precondition(lambda self: self._local(series=False))
    @rule(pick=st.integers(0, 99), hours=st.sampled_from([-2, 1, 3, 24]))
    def helpdesk_moves(self, pick, hours):
        entries = self._local(series=False)
        token, appointment = entries[pick % len(entries)]
        shift = timedelta(hours=hours)
        calendar_services.update_appointment(appointment, start=appointment.start + shift, end=appointment.end + shift)
        self.edited(token, "helpdesk")

    @precondition(lambda self: self._local(visible_text=True))
    @rule(pick=st.integers(0, 99), word=st.sampled_from(WORDS))
    def helpdesk_renames(self, pick, word):
        entries = self._local(visible_text=True)
        token, appointment = entries[pick % len(entries)]
        calendar_services.update_appointment(appointment, subject=f"{token} {word} (hd)")
        self.edited(token, "helpdesk")

    @precondition(lambda self: self._local())
    @rule(pick=st.integers(0, 99))
    def helpdesk_deletes(self, pick):
        entries = self._local()
        token, appointment = entries[pick % len(entries)]
        calendar_services.delete_appointment(appointment)
        self.deleted(token, "helpdesk")

    @precondition(lambda self: [e for e in self._local() if not e[1].private])
    @rule(pick=st.integers(0, 99))
    def helpdesk_makes_private(self, pick):
        entries = [e for e in self._local() if not e[1].private]
        token, appointment = entries[pick % len(entries)]
        calendar_services.update_appointment(appointment, private=True)
        self.edited(token, "helpdesk")

    @precondition(lambda self: self._local(series=True))
    @rule(pick=st.integers(0, 99), index=st.integers(0, 3), cancel=st.booleans())
    def helpdesk_edits_an_occurrence(self, pick, index, cancel):
        entries = self._local(series=True)
        token, master = entries[pick % len(entries)]
        occurrences = list(Appointment.objects.visible().filter(master=master).order_by("original_start"))
        if not occurrences:
            return
        occurrence = occurrences[index % len(occurrences)]
        if cancel:
            calendar_services.cancel_occurrence(occurrence)
        else:
            shift = timedelta(hours=2)
            calendar_services.update_appointment(occurrence, start=occurrence.start + shift, end=occurrence.end + shift)
        self.edited(token, "helpdesk")

    @rule(pull=st.booleans())
    def sync_once(self, pull):
        self.sync(pull=pull)

    # --- quiet, and the invariants ---

    @rule()
    def sync_until_quiet(self):
        """Faults off; the first sync may write, the one after it must not (a sync is idempotent)."""
        self.calm()
        syncs = []
        for _ in range(QUIET_WITHIN):
            self.reset_counts()
            report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=self.ac.pk), pull=True)
            syncs.append((dict(self.counts()), report))
            if not self.writes() and not (report.pushed or report.pulled or report.failed):
                break
        else:
            raise AssertionError(f"no quiet sync within {QUIET_WITHIN} syncs without faults: {syncs}")
        assert len(syncs) <= 2, f"the sync after a fault-free sync still wrote: {syncs}"
        # Both sides read once, after the quiet sync: the checks below look at the same state.
        local, remote = self.local_entries(), self.remote_entries()
        self.check_both_sides_agree(local, remote)
        self.check_nothing_foreign_lost()
        self.check_intents(local, remote)
        self.check_next_poll_is_one_request()

    @staticmethod
    def shown(entries: dict[str, list[Entry]]) -> dict[str, list[Entry]]:
        """The entries that show something in the window. A series whose every occurrence is
        cancelled shows nothing on either side: the helpdesk keeps it where the listing names it
        (CalDAV, EWS, Google) and never hears of it where the listing gives instances only (Graph's
        calendarView); a user sees no difference."""
        kept = {token: [entry for entry in found if entry.instances] for token, found in entries.items()}
        return {token: found for token, found in kept.items() if found}

    def check_both_sides_agree(self, local: dict[str, list[Entry]], remote: dict[str, list[Entry]]):
        local, remote = self.shown(local), self.shown(remote)
        counts = {token: (len(local.get(token, [])), len(remote.get(token, []))) for token in set(local) | set(remote)}
        wrong = {token: pair for token, pair in counts.items() if pair != (1, 1)}
        assert not wrong, f"entries not exactly once on each side, (helpdesk, server): {wrong}"
        for token, (here,) in local.items():
            (there,) = remote[token]
            assert here.comparable(here.hidden) == there.comparable(here.hidden), (
                f"{token} differs:\n helpdesk {here}\n server   {there}"
            )

    def check_intents(self, local: dict[str, list[Entry]], remote: dict[str, list[Entry]]):
        # a series left on the server with no occurrence is not gone, whether the helpdesk holds it or not
        empty = {token for token, found in remote.items() if not any(entry.instances for entry in found)}
        present = set(local) | empty
        for token, intent in self.model.items():
            other_side = {"helpdesk": self.OTHER, self.OTHER: "helpdesk"}.get(intent.deleted_by or "")
            if intent.deleted_by and other_side not in intent.edited_by:
                assert token not in present, f"{token} was deleted by the {intent.deleted_by} and came back"
            elif intent.alive and not intent.deleted_by:
                assert token in present, f"{token} was deleted by nobody and is gone"
            intent.alive = token in present
            intent.deleted_by, intent.edited_by = None, set()
            if not intent.alive:
                intent.foreign = intent.own_alarm = False

    def check_next_poll_is_one_request(self):
        self.reset_counts()
        report = engine.sync_agent_calendar(AgentCalendar.objects.get(pk=self.ac.pk), pull=True)
        seen = self.counts()
        assert (report.pushed, report.pulled, report.failed) == (0, 0, 0), report
        assert self.writes() == 0, dict(seen)
        assert seen == self.ONE_POLL, f"an unchanged incremental poll took {dict(seen)}, not {dict(self.ONE_POLL)}"
