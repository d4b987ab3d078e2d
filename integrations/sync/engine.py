"""Runs the planner's decisions for one agent calendar: the only place that both calls a provider
and writes sync state.

A push looks only at links a helpdesk change marked; a pull first reads the remote changes
(incremental with the stored token, or a full listing of the import window) and then plans every
link. One sync per agent calendar at a time: a lease claimed under a row lock taken with SKIP
LOCKED on PostgreSQL (an atomic conditional update elsewhere), so no web request ever waits on a
sync and a killed worker's lease simply runs out.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calendars.models import CalendarSettings, ConflictRule
from integrations import services
from integrations.models import AgentCalendar, SyncLink, SyncLogEntry
from integrations.providers.base import (
    DEFAULT_MAX_INLINE_WAIT,
    ConnectionProblem,
    ProviderError,
    RemoteCalendar,
    RemoteEvent,
    RemoteNotFound,
    RemoteRef,
    SyncTokenExpired,
    TransientError,
    VersionConflict,
    Window,
    with_retries,
)
from integrations.sync import mapping
from integrations.sync.planner import Decision, Item, Op, Winner, deletions_confirmed, plan_item

logger = logging.getLogger(__name__)

OWN_MARKER_PREFIX = "helpdesk-"
In, Out = SyncLogEntry.Direction.INBOUND, SyncLogEntry.Direction.OUTBOUND


class CalendarBusy(Exception):
    """Another worker is syncing this calendar right now."""


@dataclass
class SyncReport:
    pushed: int = 0
    pulled: int = 0
    conflicts: int = 0
    failed: int = 0
    full_resync: bool = False
    errors: list[str] = field(default_factory=list)


def _setting(name: str, default):
    return getattr(django_settings, name, default)


# --- the lock ---------------------------------------------------------------------------------------


def claim(agent_calendar: AgentCalendar) -> str | None:
    """Take the calendar's lease; None when another worker holds it."""
    now = timezone.now()
    owner = uuid.uuid4().hex
    until = now + timedelta(seconds=_setting("SYNC_LOCK_SECONDS", 600))
    free = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    if db_connection.vendor == "postgresql":
        with transaction.atomic():
            row = AgentCalendar.objects.select_for_update(skip_locked=True).filter(free, pk=agent_calendar.pk).first()
            if row is None:
                return None
            AgentCalendar.objects.filter(pk=row.pk).update(locked_until=until, lock_owner=owner)
        return owner
    taken = AgentCalendar.objects.filter(free, pk=agent_calendar.pk).update(locked_until=until, lock_owner=owner)
    return owner if taken else None


def release(agent_calendar: AgentCalendar, owner: str) -> None:
    AgentCalendar.objects.filter(pk=agent_calendar.pk, lock_owner=owner).update(locked_until=None, lock_owner="")
    agent_calendar.locked_until, agent_calendar.lock_owner = None, ""


# --- running a sync -------------------------------------------------------------------------------------


def _window(settings: CalendarSettings, now: datetime) -> Window:
    return Window(
        start=now - timedelta(days=settings.import_days_past), end=now + timedelta(days=settings.import_days_future)
    )


def _call(fn):
    """fn() under the one retry policy (providers/base.py RetryPolicy); a server's wait longer
    than SYNC_MAX_INLINE_WAIT seconds comes back as a TransientError with its retry_after, for
    `_failed` (one item) or the task (the calendar) to reschedule."""
    return with_retries(
        fn,
        attempts=_setting("SYNC_RETRY_ATTEMPTS", 4),
        base_delay=_setting("SYNC_RETRY_BASE_DELAY", 0.5),
        max_delay=_setting("SYNC_RETRY_MAX_DELAY", 30.0),
        max_inline_wait=_setting("SYNC_MAX_INLINE_WAIT", DEFAULT_MAX_INLINE_WAIT),
    )


def sync_agent_calendar(agent_calendar: AgentCalendar, *, pull: bool, now: datetime | None = None) -> SyncReport:
    """Push the marked changes (and with `pull`, read and apply the remote ones) for one calendar.

    Raises CalendarBusy when another worker holds the calendar, TransientError when the server
    could not be reached (the task retries later), ConnectionProblem when an admin must act.
    """
    owner = claim(agent_calendar)
    if owner is None:
        raise CalendarBusy(str(agent_calendar))
    try:
        agent_calendar.refresh_from_db()
        run = _Run(agent_calendar, now or timezone.now())
        try:
            report = run.execute(pull=pull)
        except ProviderError as error:
            _record_failure(agent_calendar, error)
            raise
        agent_calendar.last_sync = timezone.now()
        if not report.failed:
            agent_calendar.last_error = ""
            agent_calendar.state = AgentCalendar.State.ACTIVE
        else:
            agent_calendar.last_error = "; ".join(report.errors)[:2000]
            agent_calendar.last_error_at = timezone.now()
        agent_calendar.save(
            update_fields=[
                "last_sync",
                "last_error",
                "last_error_at",
                "state",
                "sync_token",
                "empty_listing_seen",
                "full_sync_at",
            ]
        )
        return report
    finally:
        release(agent_calendar, owner)


def _record_failure(agent_calendar: AgentCalendar, error: ProviderError) -> None:
    agent_calendar.last_error = str(error)[:2000]
    agent_calendar.last_error_at = timezone.now()
    if isinstance(error, ConnectionProblem):
        agent_calendar.state = AgentCalendar.State.FAILING
    agent_calendar.save(update_fields=["last_error", "last_error_at", "state"])
    SyncLogEntry.objects.create(
        agent_calendar=agent_calendar,
        direction=In,
        operation="connect",
        result=SyncLogEntry.Result.ERROR,
        message=str(error)[:2000],
    )


class _Run:
    """One sync of one agent calendar."""

    def __init__(self, agent_calendar: AgentCalendar, now: datetime) -> None:
        self.ac = agent_calendar
        self.agent = agent_calendar.agent
        self.now = now
        self.settings = CalendarSettings.load()
        self.winner = Winner.EXTERNAL if self.settings.conflict_rule == ConflictRule.EXTERNAL_WINS else Winner.HELPDESK
        self.window = _window(self.settings, now)
        self.provider = services.provider_for(agent_calendar.connection)
        self.calendar = RemoteCalendar(mailbox=agent_calendar.mailbox_address, calendar_id=agent_calendar.calendar_id)
        self.report = SyncReport()

    # --- gathering ---

    def _discover_calendar(self) -> None:
        """A calendar added in admin without its remote id is looked up here, on the worker."""
        if self.ac.calendar_id:
            return
        found = self.provider.find_calendar(self.ac.mailbox_address, self.ac.calendar_name or None)
        self.ac.calendar_id = found.calendar_id
        self.ac.sync_token = ""
        AgentCalendar.objects.filter(pk=self.ac.pk).update(calendar_id=found.calendar_id, sync_token="")
        self.calendar = RemoteCalendar(mailbox=self.ac.mailbox_address, calendar_id=found.calendar_id)

    def execute(self, *, pull: bool) -> SyncReport:
        self._discover_calendar()
        remote: dict[str, RemoteEvent] = {}
        deleted_ids: set[str] = set()
        full = False
        confirmed = True
        if pull:
            page = self._list_changes()
            full = page.full
            remote = {event.marker or event.remote_id: event for event in page.changed}
            deleted_ids = set(page.deleted)
            links = list(self.ac.links.select_related("appointment"))
            known = [link for link in links if link.remote_hash and self._in_window(link)]
            confirmed = deletions_confirmed(
                full_listing=full,
                listed=len(page.changed),
                known=len(known),
                empty_seen_before=self.ac.empty_listing_seen,
            )
            self.ac.empty_listing_seen = full and not confirmed
            if not confirmed:
                self._log(
                    In,
                    "full listing",
                    SyncLogEntry.Result.SKIPPED,
                    message="The calendar came back empty; nothing is deleted until the next pull confirms it.",
                )
        else:
            due = Q(pending=True) | Q(failures__gt=0, next_attempt_at__lte=self.now)
            links = list(self.ac.links.filter(due).select_related("appointment"))
        by_marker = {link.marker: link for link in links}
        by_remote_id = {link.remote_id: link for link in links if link.remote_id}
        seen: set[int] = set()
        conflicts: list[SyncLink] = []
        for link in links:
            if not pull and link.next_attempt_at and link.next_attempt_at > self.now and link.failures:
                continue
            event = remote.pop(link.marker, None)
            if event is None and link.remote_id:
                event = next((e for k, e in list(remote.items()) if e.remote_id == link.remote_id), None)
                if event is not None:
                    remote.pop(event.marker or event.remote_id, None)
            gone = link.remote_id in deleted_ids or (
                pull and full and confirmed and event is None and self._in_window(link)
            )
            if self._process(link, event, gone=gone) == "conflict":
                conflicts.append(link)
            seen.add(link.pk)
        for key, event in remote.items():
            if event.remote_id in by_remote_id or key in by_marker:
                continue
            self._process_new_remote(event)
        if conflicts and not pull:
            # The server refused our version: read its side and let the conflict rule decide.
            return self.execute(pull=True)
        return self.report

    def _list_changes(self):
        token = self.ac.sync_token or None
        every = timedelta(hours=_setting("SYNC_FULL_RESYNC_HOURS", 24))
        if token and (self.ac.full_sync_at is None or self.ac.full_sync_at <= self.now - every):
            # The window moves with time: an entry no change ever reported can enter it unseen by the
            # incremental mechanism, so the window is listed in full now and then.
            token = None
        try:
            page = _call(lambda: self.provider.list_changes(self.calendar, token, self.window))
        except SyncTokenExpired:
            self._log(In, "full resync", SyncLogEntry.Result.OK, message="The server refused our sync token.")
            self.report.full_resync = True
            page = _call(lambda: self.provider.list_changes(self.calendar, None, self.window))
        self._next_token = page.next_token
        self.ac.sync_token = page.next_token or ""
        if page.full:
            self.ac.full_sync_at = self.now
        return page

    def _in_window(self, link: SyncLink) -> bool:
        if link.span_start is None:
            return True
        return link.span_start < self.window.end and (link.span_end is None or link.span_end > self.window.start)

    # --- one item ---

    def _local_event(self, link: SyncLink) -> RemoteEvent | None:
        appointment = link.appointment
        if appointment is None or not appointment.agents.filter(pk=self.agent.pk).exists():
            return None
        before = mapping.from_data(link.snapshot["remote"]) if link.snapshot.get("remote") else None
        return mapping.local_event(
            appointment,
            settings=self.settings,
            marker=link.marker,
            templated=link.origin == SyncLink.Origin.HELPDESK,
            remote_before=before,
        )

    def _process(self, link: SyncLink, event: RemoteEvent | None, *, gone: bool) -> str:
        local = self._local_event(link)
        if gone:
            remote_hash = None
        elif event is not None:
            remote_hash = mapping.content_hash(event)
        else:
            remote_hash = link.remote_hash or None
        item = Item(
            synced_local=link.local_hash or None,
            synced_remote=link.remote_hash or None,
            local=mapping.content_hash(local) if local is not None else None,
            remote=remote_hash,
            held=link.approval in (SyncLink.Approval.WAITING, SyncLink.Approval.DECLINED),
        )
        decision = plan_item(item, self.winner)
        try:
            self._apply(link, decision, local, event)
        except VersionConflict:
            return "conflict"
        except ProviderError as error:
            self._failed(link, decision, error)
        except Exception as error:  # a bad item must not stop the others
            logger.exception("Sync of %s failed", link)
            self._failed(link, decision, error)
        return decision.op

    def _process_new_remote(self, event: RemoteEvent) -> None:
        own = (event.marker or "").startswith(OWN_MARKER_PREFIX)
        may_import = self.agent.import_external and not own and mapping_overlaps(event, self.window)
        decision = plan_item(Item(None, None, None, mapping.content_hash(event), may_import=may_import), self.winner)
        if decision.op != Op.PULL_CREATE:
            return
        link = SyncLink(agent_calendar=self.ac, origin=SyncLink.Origin.EXTERNAL, marker=event.marker or event.remote_id)
        try:
            self._apply(link, decision, None, event)
        except Exception as error:
            logger.exception("Import of %s failed", event.remote_id)
            self.report.failed += 1
            self.report.errors.append(str(error))
            self._log(In, "create", SyncLogEntry.Result.ERROR, subject=event.subject, message=str(error))

    def _apply(self, link: SyncLink, decision: Decision, local: RemoteEvent | None, event: RemoteEvent | None) -> None:
        op = decision.op
        if op == Op.NOTHING:
            if link.pending and link.approval not in (SyncLink.Approval.WAITING, SyncLink.Approval.DECLINED):
                SyncLink.objects.filter(pk=link.pk).update(pending=False)
            return
        if op in (Op.FORGET, Op.IGNORE):
            if link.pk:
                link.delete()
            return
        if op == Op.RECORD:
            if event is not None:
                link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
            self._synced(link, local, event or local)
            return
        if op in (Op.PUSH_CREATE, Op.PUSH_UPDATE):
            self._push(link, decision, local, event)
        elif op == Op.PUSH_DELETE:
            _call(lambda: self.provider.delete(self.calendar, RemoteRef(link.remote_id, link.version or None)))
            self._log(Out, "delete", subject=link.snapshot.get("local", {}).get("subject", ""), link=None)
            link.delete()
            self.report.pushed += 1
        elif op in (Op.PULL_CREATE, Op.PULL_UPDATE):
            self._pull(link, decision, event)
        elif op == Op.PULL_DELETE:
            with transaction.atomic(), services.inbound(self.ac):
                if link.appointment is not None:
                    services.remove_for_remote_deletion(link.appointment, self.agent)
                subject = link.snapshot.get("remote", {}).get("subject", "")
                link.delete()
                self._log(In, "delete", subject=subject)
            self.report.pulled += 1

    def _push(self, link: SyncLink, decision: Decision, local: RemoteEvent, event: RemoteEvent | None) -> None:
        if decision.op == Op.PUSH_CREATE or not link.remote_id:
            ref = _call(lambda: self.provider.create(self.calendar, local))
            operation = "create"
        else:
            # When the planner saw the server's entry, its version is the one our change replaces: a
            # newer one (changed again meanwhile) is a conflict for the next pull to decide.
            version = (event.version if event is not None and event.version else link.version) or None
            try:
                ref = _call(lambda: self.provider.update(self.calendar, RemoteRef(link.remote_id, version), local))
            except RemoteNotFound:
                ref = _call(lambda: self.provider.create(self.calendar, local))
            operation = "update"
        link.remote_id, link.version = ref.remote_id, ref.version or ""
        overwritten = mapping.to_data(event) if decision.conflict and event is not None else None
        self._synced(link, local, local)
        self.report.pushed += 1
        if decision.conflict:
            self.report.conflicts += 1
        self._log(
            Out,
            operation,
            SyncLogEntry.Result.CONFLICT if decision.conflict else SyncLogEntry.Result.OK,
            subject=local.subject,
            link=link,
            overwritten=overwritten,
            message="Both sides changed; the helpdesk's version won." if decision.conflict else "",
        )

    def _pull(self, link: SyncLink, decision: Decision, event: RemoteEvent) -> None:
        with transaction.atomic(), services.inbound(self.ac):
            overwritten = None
            if link.appointment is None:
                appointment = services.import_remote_event(self.agent, event)
                link.appointment = appointment
                operation = "create"
            else:
                if decision.conflict:
                    before_local = self._local_event(link)
                    overwritten = mapping.to_data(before_local) if before_local else None
                before = mapping.from_data(link.snapshot["remote"]) if link.snapshot.get("remote") else None
                services.apply_remote_update(
                    link.appointment,
                    self.agent,
                    before,
                    event,
                    templated=link.origin == SyncLink.Origin.HELPDESK,
                )
                operation = "update"
            link.appointment.refresh_from_db()
            link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
            local = self._local_event(link)
            self._synced(link, local, event)
            self.report.pulled += 1
            if decision.conflict:
                self.report.conflicts += 1
            self._log(
                In,
                operation,
                SyncLogEntry.Result.CONFLICT if decision.conflict else SyncLogEntry.Result.OK,
                subject=link.appointment.subject or ("(private)" if event.private else ""),
                link=link,
                overwritten=overwritten,
                message="Both sides changed; the external calendar's version won." if decision.conflict else "",
            )

    def _synced(self, link: SyncLink, local: RemoteEvent | None, remote: RemoteEvent | None) -> None:
        link.local_hash = mapping.content_hash(local) if local is not None else ""
        link.remote_hash = mapping.content_hash(remote) if remote is not None else ""
        link.snapshot = {
            "local": mapping.to_data(local) if local is not None else None,
            "remote": mapping.to_data(remote) if remote is not None else None,
        }
        span = remote or local
        if span is not None:
            link.span_start, link.span_end = mapping.span_of(span)
        link.pending = False
        if link.approval == SyncLink.Approval.APPROVED:
            link.approval = SyncLink.Approval.NOT_NEEDED
        link.failures = 0
        link.next_attempt_at = None
        link.last_error = ""
        link.last_synced_at = timezone.now()
        link.save()

    def _failed(self, link: SyncLink, decision: Decision, error: Exception) -> None:
        failures = link.failures + 1
        delay = min(3600, 30 * 2 ** min(failures, 7))
        if isinstance(error, TransientError) and error.retry_after:
            delay = error.retry_after  # the server's own wait, in full: neither cut short nor stretched
        SyncLink.objects.filter(pk=link.pk).update(
            failures=failures, next_attempt_at=self.now + timedelta(seconds=delay), last_error=str(error)[:2000]
        )
        self.report.failed += 1
        self.report.errors.append(str(error))
        direction = Out if decision.op.startswith("push") else In
        self._log(direction, decision.op.split("_")[-1], SyncLogEntry.Result.ERROR, message=str(error), link=link)

    def _log(
        self,
        direction,
        operation,
        result=SyncLogEntry.Result.OK,
        *,
        subject="",
        message="",
        link=None,
        overwritten=None,
    ) -> None:
        SyncLogEntry.objects.create(
            agent_calendar=self.ac,
            link=link if link is not None and link.pk else None,
            direction=direction,
            operation=operation,
            result=result,
            subject=(subject or "")[:255],
            message=(message or "")[:2000],
            overwritten=overwritten,
        )


def mapping_overlaps(event: RemoteEvent, window: Window) -> bool:
    start, end = mapping.span_of(event)
    return start < window.end and (end is None or end > window.start)
