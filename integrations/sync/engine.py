"""Runs the planner's decisions for one agent calendar: the only place that both calls a provider
and writes sync state.

A push looks only at links a helpdesk change marked; a pull first reads the remote changes
(incremental with the stored token, or a full listing of the import window) and then plans every
link. The flow goes one way: task -> engine -> planner (what to do), provider (the remote side),
`sync.inbound` (writes to appointments).

One sync per agent calendar at a time: a lease claimed under a row lock taken with SKIP LOCKED
on PostgreSQL (an atomic conditional update elsewhere), so no web request ever waits on a sync
and a killed worker's lease simply runs out.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Prefetch, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from calendars import times
from calendars.models import Appointment, CalendarSettings, ConflictRule
from calendars.signals import Change, appointment_changed
from helpdesk import bulk
from helpdesk.moments import day_text, when_text
from integrations import selectors
from integrations.models import (
    DELETED_REQUEST,
    AgentCalendar,
    SyncLink,
    SyncLogEntry,
    new_marker,
    remote_calendar_key,
)
from integrations.providers import registry
from integrations.providers.base import (
    DEFAULT_MAX_INLINE_WAIT,
    BulkOp,
    CalendarRights,
    ConnectionProblem,
    EntryRefused,
    ProviderError,
    RemoteCalendar,
    RemoteEvent,
    RemoteNotFound,
    RemoteRef,
    RightsLost,
    SyncTokenExpired,
    TransientError,
    UnreadableEntry,
    VersionConflict,
    Window,
    judge_refusal,
    with_retries,
)
from integrations.sync import conflicts, inbound, limits, mapping, privacy, schedule
from integrations.sync.planner import (
    Decision,
    Item,
    Merge,
    Op,
    Winner,
    first_sight,
    merge_fields,
    merge_items,
    missing_need_confirming,
    plan_item,
)

logger = logging.getLogger(__name__)

OWN_MARKER_PREFIX = "helpdesk-"
In, Out = SyncLogEntry.Direction.INBOUND, SyncLogEntry.Direction.OUTBOUND


# SyncLink.snapshot key: a create of this link failed with its outcome unknown (the entry may exist).
UNCONFIRMED_CREATE = "create_unconfirmed"
# SyncLink.snapshot key: a create or update that failed with its outcome unknown (the server may have
# made it and lost the answer: a reset connection, a timeout after the commit): what we sent, as
# {"hash": content hash, "local": mapping.to_data}, until a sync records both sides again.
SENT_UNCONFIRMED = "sent_unconfirmed"
# SyncLink.snapshot key: the external calendar refused this entry's last write while the calendar
# itself stayed writable (an invitation only its organiser may change, a private item): a pull
# leaves the write alone until the link's back-off ends, as a push does (`_Run._failed`).
REFUSED_WRITE = "refused_write"
# SyncLink.snapshot key: the original starts (`mapping.moment_key`) of the occurrences changed on their
# own in the entry as last read ("remote") that its own rule no longer gives (`mapping.orphaned_overrides`),
# read once when that entry is recorded (`_synced_fields`), so an unchanged poll walks no rule
# (review F6). Absent on a link recorded before it was kept: read on its next poll and kept then.
ORPHANED = "orphaned_overrides"
# SyncLink.snapshot key: a linked entry the calendar's new place did not hold after a move
# (`_Run._not_at_new_place`), waiting for its create there: {"at": the new place, "from": the old
# one, "was": its id there}. The "re-create" log line is written and counted when that create is
# recorded (`_Run._recreated`), never before: a refused or failed create keeps the key for the next
# try; `_synced_fields` drops it with the rest of the old snapshot.
RECREATE_AFTER_MOVE = "recreate_after_move"
PUSHES = (Op.PUSH_CREATE, Op.PUSH_UPDATE, Op.PUSH_DELETE)


class CalendarBusy(Exception):
    """Another worker is syncing this calendar right now. `until`: when its lease runs out (None:
    not known), for a task to come back then rather than give up."""

    def __init__(self, message: str, until: datetime | None = None) -> None:
        super().__init__(message)
        self.until = until


def _lease_end(agent_calendar_id: int) -> datetime | None:
    return AgentCalendar.objects.filter(pk=agent_calendar_id).values_list("locked_until", flat=True).first()


@dataclass
class SyncReport:
    """What one run did: entries pushed and pulled, conflicts it resolved, items that failed. A
    pull also counts the conflicts that pushes resolved since the calendar's previous good pull
    (`earlier_conflicts`, kept meanwhile in `AgentCalendar.push_conflicts`), so its summary never
    says "conflicts 0" right after one."""

    pushed: int = 0
    pulled: int = 0
    conflicts: int = 0
    failed: int = 0
    full_resync: bool = False
    errors: list[str] = field(default_factory=list)
    earlier_conflicts: int = 0
    # Items that failed on the calendar's connection itself (ConnectionProblem: a wrong password, a
    # missing right, no such calendar), and the last such error: every write failing so marks the
    # calendar failing, as a pull meeting it does (`_sync_held`).
    connection_failures: int = 0
    connection_problem: ProviderError | None = None
    # The calendar's own rights were found gone after a refused entry (`_Run._judged`): no longer
    # readable, or read-only for the helpdesk's writes. The calendar is marked failing with this
    # reason; the writes it refused stay pending, without a failure of their own.
    rights_problem: RightsLost | None = None
    # Links the helpdesk changed again while this run pushed or pulled them (their change count
    # moved on: `SyncLink.changes`): they stay pending, and the caller queues another push
    # (integrations.tasks) so the newer change goes out without waiting for a poll.
    changed_meanwhile: int = 0

    def summary(self) -> str:
        """One line for the task result and `manage.py sync_calendars`:
        "pushed 1, pulled 0, conflicts 1 (1 resolved by a push since the last pull), failed 0"."""
        conflicts = f"conflicts {self.conflicts + self.earlier_conflicts}"
        if self.earlier_conflicts:
            pushes = "a push" if self.earlier_conflicts == 1 else "pushes"
            conflicts += f" ({self.earlier_conflicts} resolved by {pushes} since the last pull: see the sync log)"
        return f"pushed {self.pushed}, pulled {self.pulled}, {conflicts}, failed {self.failed}" + (
            " (full resync)" if self.full_resync else ""
        )


def _setting(name: str, default):
    return getattr(django_settings, name, default)


# --- the lock ---------------------------------------------------------------------------------------


def claim(agent_calendar: AgentCalendar) -> str | None:
    """Take the calendar's lease; None when another worker holds it. One conditional UPDATE of
    this row: a second worker claiming at the same moment waits for the first one's row lock
    (PostgreSQL re-checks the condition on the row it then sees) or runs after it (SQLite), and
    finds the lease taken."""
    return _claim(agent_calendar.pk)


def _claim(agent_calendar_id: int, *, unless_paused: bool = False) -> str | None:
    """The lease of one calendar, or None while another live run holds it. The owner names this
    process (`_lease_owner`): a lease whose holder was a process of this host that is gone (a worker
    killed and restarted) is taken over at once instead of blocking the calendar until it runs out
    (trial L-KILL); one held elsewhere runs out after SYNC_LOCK_SECONDS."""
    now = timezone.now()
    owner = _lease_owner()
    until = now + timedelta(seconds=_setting("SYNC_LOCK_SECONDS", 600))
    free = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    rows = AgentCalendar.objects.filter(pk=agent_calendar_id)
    if unless_paused:
        rows = rows.exclude(state=AgentCalendar.State.PAUSED)
    if rows.filter(free).update(locked_until=until, lock_owner=owner):
        return owner
    held = rows.values_list("lock_owner", flat=True).first()
    if held and _holder_gone(held) and rows.filter(lock_owner=held).update(locked_until=until, lock_owner=owner):
        logger.info(
            "Calendar %s: its sync lease was held by a process that is gone (%s): taken over", agent_calendar_id, held
        )
        return owner
    return None


def _pid_namespace() -> str:
    """This process's PID namespace, as the inode of /proc/self/ns/pid ("4026531836"), or "" where
    there is none to read (not Linux). Process ids are only unique within one namespace: two
    containers may share a host name and still number their processes apart (review F3)."""
    try:
        return os.readlink("/proc/self/ns/pid").partition("[")[2].rstrip("]")
    except OSError:
        return ""


def _lease_owner() -> str:
    """A new lease's owner: a random id, then this process's id, PID namespace and host,
    "<hex>/<pid>/<namespace>/<host>" (AgentCalendar.lock_owner holds 64 characters)."""
    return f"{uuid.uuid4().hex[:16]}/{os.getpid()}/{_pid_namespace()}/{socket.gethostname()}"[:64]


def _holder_gone(owner: str) -> bool:
    """Is the process that holds a lease `owner` (`_lease_owner`) known to be gone: one of this
    host and this PID namespace whose process id no longer runs? An owner of another host or
    namespace (another container, even of the same host name), of this process, of an older form,
    or whose process is alive (or not ours to signal), is not known gone: only its lease's end
    frees it."""
    parts = owner.split("/", 3)
    namespace = _pid_namespace()
    if len(parts) != 4 or not parts[1].isdigit() or not namespace:
        return False
    if owner != f"{parts[0]}/{parts[1]}/{namespace}/{socket.gethostname()}"[:64]:
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def release(agent_calendar: AgentCalendar, owner: str) -> None:
    AgentCalendar.objects.filter(pk=agent_calendar.pk, lock_owner=owner).update(locked_until=None, lock_owner="")
    agent_calendar.locked_until, agent_calendar.lock_owner = None, ""


def _field(name: str):
    return AgentCalendar._meta.get_field(name)


def _save_and_release(agent_calendar: AgentCalendar, owner: str, fields: list[str], **expressions) -> None:
    """`fields` of the calendar saved and its lease released (if still `owner`'s) in one UPDATE:
    what `save(update_fields=fields)` and then `release` do, one statement fewer. `expressions`:
    more columns set in the same UPDATE (e.g. an F() addition)."""
    mine = Q(lock_owner=owner)
    AgentCalendar.objects.filter(pk=agent_calendar.pk).update(
        **{name: getattr(agent_calendar, name) for name in fields},
        **expressions,
        locked_until=Case(When(mine, then=None), default=F("locked_until"), output_field=_field("locked_until")),
        lock_owner=Case(When(mine, then=Value("")), default=F("lock_owner"), output_field=_field("lock_owner")),
    )
    agent_calendar.locked_until, agent_calendar.lock_owner = None, ""


# --- running a sync -------------------------------------------------------------------------------------


def _window(settings: CalendarSettings, now: datetime) -> Window:
    return Window(
        start=now - timedelta(days=settings.import_days_past), end=now + timedelta(days=settings.import_days_future)
    )


def _keeping_their_reminder(link: SyncLink, local: RemoteEvent, base: RemoteEvent | None) -> RemoteEvent:
    """The helpdesk's side as it is written over `base` (the entry as last read): with the
    reminder the external calendar holds when the person changed it there (a phone editing our
    VALARM's TRIGGER in place, as Apple Calendar and Thunderbird do; Outlook's or Google's reminder
    minutes) and the helpdesk's reminder is the one last synced. SPEC S3.5: the helpdesk sets the
    reminder on the entry; a later change of its own reminder is still written, but a change of
    another field no longer puts the old reminder back over the person's choice (trial fault 8).
    `local` itself (stored as the last synced state) is not changed. Minutes before the start."""
    synced = link.snapshot.get("local") or {}
    if base is None or "reminder_minutes" not in synced:
        return local
    if local.reminder_minutes != synced["reminder_minutes"] or base.reminder_minutes == local.reminder_minutes:
        return local
    return dataclasses.replace(local, reminder_minutes=base.reminder_minutes)


def _keeping_their_length(link: SyncLink, local: RemoteEvent, base: RemoteEvent | None) -> RemoteEvent:
    """The helpdesk's side as it is written over `base` (the entry as last read): with the external
    entry's own zero length when the helpdesk did not change the times. RFC 5545 3.6.1 allows an
    entry that ends when it starts (DTEND = DTSTART, DURATION:PT0S, or neither), as does a start in
    a spring-forward gap ending on the hour after it (3.3.5); the helpdesk keeps such an entry as
    one minute (an appointment ends after it starts), and an edit of another field must not write
    that minute to the phone (trial L-ZEROLEN). Single timed entries only. `local` itself (stored
    as the helpdesk's side last synced) is not changed; a move or resize in the helpdesk is written."""
    synced = link.snapshot.get("local") or {}
    if base is None or base.end is None or local.rrules or base.rrules or local.all_day or base.all_day:
        return local
    if not isinstance(base.start, datetime) or not isinstance(local.start, datetime):
        return local
    zone = times.zone_or(local.time_zone, UTC)

    def instant(value: datetime) -> datetime:
        # As UTC: Python compares two times of one zone by wall clock, and a gap start (02:30)
        # is the instant of the hour after it (03:30).
        return (times.on_wall_clock(value, zone) if value.tzinfo is None else value).astimezone(UTC)

    if not isinstance(base.end, datetime) or instant(base.end) != instant(base.start):
        return local
    if instant(base.start) != instant(local.start):
        return local
    moved_here = (mapping.moment_key(local.start), mapping.moment_key(local.end)) != (
        synced.get("start"),
        synced.get("end"),
    )
    if moved_here and instant(local.end) != instant(base.start) + timedelta(minutes=1):
        # The helpdesk moved or resized it since the last sync: its times are written. Times that
        # are this entry's own as the helpdesk keeps them (its minute: inbound `_span`) are not a
        # move here but a merge that took the phone's move (trial L-ZEROLEN, review F13).
        return local
    # Both as the entry has them: a gap start is the instant of the hour after it, and a merge that
    # compares one zone's times by wall clock would rewrite 02:30 as 03:30.
    return dataclasses.replace(local, start=base.start, end=base.end)


def _to_create(link: SyncLink, local: RemoteEvent) -> RemoteEvent:
    """What a create of `link` sends, alone or in a batch: a series split off another starts from
    that one's entry as last read (integrations.services `_start_from_the_old_entries`), handed to
    the connector as `raw`, so what the helpdesk does not model stays on both halves."""
    template = link.snapshot.get("template_raw")
    return dataclasses.replace(local, raw=template) if template else local


def _reminder_changed_here(link: SyncLink, local: RemoteEvent | None) -> bool:
    """Did the helpdesk change the entry's reminder (minutes before the start) since the last sync?
    The content hash leaves reminders out (other clients rewrite them freely), so a change of the
    helpdesk's own reminder alone is read against the helpdesk's side as last synced (SPEC S3.5:
    the helpdesk sets the reminder on the external entry). False for a link synced before that
    side was kept with its reminder."""
    synced = link.snapshot.get("local") or {}
    return local is not None and "reminder_minutes" in synced and local.reminder_minutes != synced["reminder_minutes"]


def _reminder_changed_there(link: SyncLink, event: RemoteEvent | None) -> bool:
    """Did the external calendar change the entry's reminder (minutes before the start; None: no
    alarm) since it was last read? Read against the link's snapshot of the remote side (the
    content hash leaves reminders out: clients rewrite alarms freely). False for a link synced
    before both sides were kept with their reminder, so an upgrade changes nothing, and for an
    entry not read in this run. Only the entry's (a series': its master's) own reminder, as each
    reader maps it to `RemoteEvent.reminder_minutes`; occurrences' own alarms are not read. An
    alarm no minutes before the start say (`RemoteEvent.reminder_kept`) is the person's own: no
    change of the helpdesk's reminder, never "no reminder"; its removal later is one."""
    synced, remote = link.snapshot.get("local") or {}, link.snapshot.get("remote") or {}
    if event is None or event.reminder_kept or "reminder_minutes" not in synced or "reminder_minutes" not in remote:
        return False
    return (event.reminder_minutes, False) != (remote["reminder_minutes"], remote.get("reminder_kept", False))


def _reminders_contested(link: SyncLink, item: Item, event: RemoteEvent | None) -> bool:
    """Only the reminder changed, on both sides, since the last sync (`item`: `_process`'s, whose
    helpdesk hash is marked ":reminder" for a helpdesk reminder change alone), and the two new
    reminders differ: a conflict for the winner rule (SPEC S3.8)."""
    return (
        event is not None
        and item.remote == item.synced_remote
        and item.local == f"{item.synced_local}:reminder"
        and _reminder_changed_there(link, event)
    )


def _minutes_words(minutes: int | None) -> str:
    """A reminder in a log line: "30 minutes", or "none"."""
    return "none" if minutes is None else f"{minutes} minutes"


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
        raise CalendarBusy(str(agent_calendar), _lease_end(agent_calendar.pk))
    return _sync_held(agent_calendar, owner, pull=pull, now=now)


def sync_calendar_by_id(agent_calendar_id: int, *, pull: bool, now: datetime | None = None) -> SyncReport | None:
    """What a task runs: `sync_agent_calendar` for the calendar with this id, which is read once,
    after its lease is taken (the claim is the run's first statement). None, and nothing done,
    when the calendar is gone or paused. Raises what `sync_agent_calendar` raises."""
    owner = _claim(agent_calendar_id, unless_paused=True)
    if owner is None:
        state = AgentCalendar.objects.filter(pk=agent_calendar_id).values_list("state", flat=True).first()
        if state is None or state == AgentCalendar.State.PAUSED:
            return None
        raise CalendarBusy(f"calendar {agent_calendar_id}", _lease_end(agent_calendar_id))
    return _sync_held(AgentCalendar(pk=agent_calendar_id), owner, pull=pull, now=now)


@contextmanager
def fewer_collections(young: int = 10_000) -> Iterator[None]:
    """Within the block, a young garbage collection every `young` new objects instead of Python's
    700, then the old thresholds again (for a worker or a test that goes on).

    A run makes hundreds of thousands of objects that live until their batch is written (a big
    import's entries, rows and links); scanning them again every 700 was about 3% of a 5,000-entry
    import's CPU time and found a few thousand garbage objects in all, which later collections
    still find. 10,000 kept the import's peak memory as it was (20,000 added 1-2 MiB)."""
    threshold = gc.get_threshold()
    gc.set_threshold(young, threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _sync_held(agent_calendar: AgentCalendar, owner: str, *, pull: bool, now: datetime | None) -> SyncReport:
    """The run of a calendar whose lease `owner` holds; the lease is released at the end."""
    released = False
    try:
        # Read again now that it is ours, with what the run reads of it, in one query.
        agent_calendar.refresh_from_db(from_queryset=AgentCalendar.objects.select_related("agent__user", "connection"))
        agent_calendar._state.adding = False  # a row that exists (a bare AgentCalendar(pk=...) came in)
        run = _Run(agent_calendar, now or timezone.now())
        try:
            with fewer_collections():
                report = run.execute(pull=pull)
        except ProviderError as error:
            _record_failure(agent_calendar, error, pull=pull)
            raise
        extra = {}
        if pull:  # read with the calendar under the lease: no push can add to it meanwhile
            report.earlier_conflicts, agent_calendar.push_conflicts = agent_calendar.push_conflicts, 0
        elif report.conflicts:
            extra["push_conflicts"] = F("push_conflicts") + report.conflicts
        agent_calendar.last_sync = timezone.now()
        if pull:  # a good pull: the lag restarts and any back-off ends
            agent_calendar.last_pull_at, agent_calendar.pull_failures, agent_calendar.next_pull_at = (
                agent_calendar.last_sync,
                0,
                None,
            )
        if report.rights_problem is not None:
            # The account lost a right on the whole calendar: an admin must act, whatever else got through.
            agent_calendar.state = AgentCalendar.State.FAILING
            agent_calendar.last_error = limits.describe(report.rights_problem)[:2000]
            agent_calendar.last_error_at = timezone.now()
        elif not report.failed:
            agent_calendar.last_error = ""
            agent_calendar.state = AgentCalendar.State.ACTIVE
        else:
            agent_calendar.last_error = "; ".join(report.errors)[:2000]
            agent_calendar.last_error_at = timezone.now()
            if report.connection_failures == report.failed and not (report.pushed or report.pulled):
                # Nothing got through and every item met the connection's own problem: the calendar
                # is failing with that reason, as a pull that meets it marks it (`_record_failure`);
                # the items keep their own back-off, and a write that gets through makes it active.
                agent_calendar.state = AgentCalendar.State.FAILING
                agent_calendar.last_error = limits.describe(report.connection_problem)[:2000]
        # An admin may have paused the calendar while it synced: the pause stays.
        extra["state"] = Case(
            When(state=AgentCalendar.State.PAUSED, then=Value(AgentCalendar.State.PAUSED)),
            default=Value(agent_calendar.state),
            output_field=_field("state"),
        )
        fields = ["last_sync", "last_error", "last_error_at", "sync_token", "full_sync_at"]
        fields += ["last_pull_at", "pull_failures", "next_pull_at", "import_retry"]
        if run.moved_from and not agent_calendar.moved_from:
            # The move's first listing is done; a move marked meanwhile (another address) stays.
            extra["moved_from"] = Case(
                When(moved_from=run.moved_from, then=Value("")),
                default=F("moved_from"),
                output_field=_field("moved_from"),
            )
        fields += ["push_conflicts"] if pull else []
        _save_and_release(agent_calendar, owner, fields, **extra)
        released = True
        return report
    finally:
        if not released:
            release(agent_calendar, owner)


def finish_disconnect(agent_calendar_id: int, *, remove_pushed: bool) -> str:
    """The worker's half of a disconnect (services.disconnect_agent_calendar): with `remove_pushed`,
    delete from the remote calendar every entry this link put there (an entry already gone counts
    as removed), logging each; then stamp the log with the technician and delete the link. When
    some could not be removed, the link stays (paused) with the reason, for the admin to disconnect
    again. Raises CalendarBusy while a sync holds the calendar, TransientError when the server
    cannot be reached (the task retries). Returns a one-line outcome."""
    owner = _claim(agent_calendar_id)
    if owner is None:
        if not AgentCalendar.objects.filter(pk=agent_calendar_id).exists():
            return "already gone"
        raise CalendarBusy(f"calendar {agent_calendar_id}", _lease_end(agent_calendar_id))
    agent_calendar = AgentCalendar.objects.select_related("agent__user", "connection").get(pk=agent_calendar_id)
    label = str(agent_calendar)[:255]
    removed, errors = 0, []
    try:
        links = agent_calendar.links.filter(origin=SyncLink.Origin.HELPDESK).exclude(remote_id="")
        if remove_pushed and agent_calendar.calendar_id and links.exists():
            provider = registry.build(agent_calendar.connection)
            calendar = RemoteCalendar(mailbox=agent_calendar.mailbox_address, calendar_id=agent_calendar.calendar_id)
            for link in links.select_related("appointment"):
                subject = link.appointment.subject if link.appointment is not None else ""
                ref = RemoteRef(link.remote_id, None)
                try:
                    _call(lambda ref=ref: provider.delete(calendar, ref))
                except RemoteNotFound:
                    pass
                except ProviderError as error:
                    errors.append(limits.describe(error))
                    _log_kept(agent_calendar, label, "delete", SyncLogEntry.Result.ERROR, subject, errors[-1])
                    continue
                removed += 1
                _log_kept(agent_calendar, label, "delete", SyncLogEntry.Result.OK, subject, "Removed on disconnect.")
                link.delete()
    finally:
        release(agent_calendar, owner)
    if errors:
        reason = (
            f"Disconnecting: {len(errors)} entries could not be removed from the calendar ({errors[0]}); "
            "the link stays paused: disconnect it again to retry."
        )
        AgentCalendar.objects.filter(pk=agent_calendar.pk).update(
            last_error=reason[:2000], last_error_at=timezone.now()
        )
        return reason
    _log_kept(agent_calendar, label, "disconnect", SyncLogEntry.Result.OK, "", f"Disconnected; {removed} removed.")
    agent_calendar.delete()  # its log is stamped with the technician first (services.keep_sync_log)
    return f"disconnected, {removed} removed"


def _log_kept(agent_calendar: AgentCalendar, label: str, operation: str, result: str, subject: str, message: str):
    SyncLogEntry.objects.create(
        agent_calendar=agent_calendar,
        agent=agent_calendar.agent,
        calendar_label=label,
        direction=Out,
        operation=operation,
        result=result,
        subject=subject[:255],
        message=message[:2000],
    )


def _record_failure(agent_calendar: AgentCalendar, error: ProviderError, *, pull: bool) -> None:
    agent_calendar.last_error = limits.describe(error)[:2000]
    agent_calendar.last_error_at = timezone.now()
    if isinstance(error, ConnectionProblem):
        agent_calendar.state = AgentCalendar.State.FAILING
    if pull:  # the beat leaves the calendar alone until its back-off ends (sync/schedule.py)
        agent_calendar.pull_failures += 1
        agent_calendar.next_pull_at = schedule.next_pull_after_failure(
            agent_calendar.pull_failures,
            agent_calendar.last_error_at,
            base=_setting("SYNC_BACKOFF_BASE_SECONDS", 300),
            cap=_setting("SYNC_BACKOFF_MAX_SECONDS", 3600),
        )
    agent_calendar.save(update_fields=["last_error", "last_error_at", "state", "pull_failures", "next_pull_at"])
    SyncLogEntry.objects.create(
        agent_calendar=agent_calendar,
        direction=In,
        operation="connect",
        result=SyncLogEntry.Result.ERROR,
        message=limits.describe(error)[:2000],
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
        self.provider = registry.build(agent_calendar.connection)
        self.calendar = RemoteCalendar(mailbox=agent_calendar.mailbox_address, calendar_id=agent_calendar.calendar_id)
        self.report = SyncReport()
        self.pulling = False  # this run lists the calendar's changes (set by execute)
        # Pushes waiting to go out together, when the provider takes many writes in one request.
        self.bulk: list[_Pending] | None = [] if hasattr(self.provider, "apply_bulk") else None
        self._other_calendars: bool | None = None  # does the technician have another calendar?
        # Pulled updates and deletions waiting to be written together (`_flush_pulls`).
        self.pulls: list[_Pending] = []
        # Occurrence rows this run may still make (limits.occurrence_budget).
        self.budget = limits.occurrence_budget()
        # The calendar's effective rights, asked at most once a run, after the first refused entry.
        self._rights: CalendarRights | None = None
        self._rights_asked = False
        # The first full listing after a move (`AgentCalendar.moved_from`): what it found, found
        # missing (to create), re-created and could not ask, for its log line; the move is over
        # once it ends with nothing unasked.
        self.after_move = {"found": 0, "missing": 0, "recreated": 0, "unanswered": 0}
        self.moved_from = agent_calendar.moved_from  # as the run found it (`_sync_held` clears it)
        # Log lines of refused imports and failed pushes, written together (`_flush_refusals`).
        self.refusals: list[tuple[SyncLogEntry, bool]] = []

    # --- gathering ---

    def _discover_calendar(self) -> None:
        """A calendar added in admin without its remote id is looked up here, on the worker. A
        calendar another link already holds is refused and not stored, so the link stays stopped
        (and the older link keeps the calendar) until an admin disconnects one of the two."""
        if self.ac.calendar_id:
            return
        found = self.provider.find_calendar(self.ac.mailbox_address, self.ac.calendar_name or None)
        self._hold(found.calendar_id, sync_token="")
        self.ac.calendar_id = found.calendar_id
        self.ac.sync_token = ""
        self.calendar = RemoteCalendar(mailbox=self.ac.mailbox_address, calendar_id=found.calendar_id)

    def _hold(self, calendar_id: str, **fields) -> None:
        """Make this link the holder of the remote calendar `calendar_id` names (its unique
        `remote_key`, with `fields` saved alongside), or raise ConnectionProblem naming the link
        that holds it already; then nothing of this calendar is stored on this link."""
        other = selectors.other_link_to_same_calendar(self.ac, calendar_id)
        if other is not None and (other.remote_key or other.pk < self.ac.pk):
            raise ConnectionProblem(selectors.already_linked_message(other))
        key = remote_calendar_key(self.ac.connection.kind, calendar_id)
        try:
            with transaction.atomic():
                AgentCalendar.objects.filter(pk=self.ac.pk).update(calendar_id=calendar_id, remote_key=key, **fields)
        except IntegrityError:  # another link took it this very moment
            other = selectors.other_link_to_same_calendar(self.ac, calendar_id)
            message = selectors.already_linked_message(other) if other else "This calendar is already linked."
            raise ConnectionProblem(message) from None
        self.ac.remote_key = key

    def execute(self, *, pull: bool) -> SyncReport:
        try:
            return self._execute(pull=pull)
        finally:
            self._flush_refusals()  # the lines of what failed before a run stopped are kept too

    def _execute(self, *, pull: bool) -> SyncReport:
        self.pulling = pull
        # Before anything is pushed or imported: one remote calendar, one link (SPEC S3.9), and no
        # one else's account without an admin's word (S5).
        refusal = selectors.link_refusal(self.ac)
        if refusal:
            raise ConnectionProblem(refusal)
        if self.ac.calendar_id and not self.ac.remote_key:
            self._hold(self.ac.calendar_id)  # resolved before it was checked: typed in admin, or older
        self._discover_calendar()
        remote: dict[str, RemoteEvent] = {}
        gone_ids: set[str] = set()
        if pull:
            links = _with_local_side(self.ac.links.all())
            page = self._list_changes(links)
            self._read_failed_again(page, links)
            remote = self._heal_duplicates(page, links)
            gone_ids = self._confirm_missing(page, remote, links)
        else:
            due = Q(pending=True) | Q(failures__gt=0, next_attempt_at__lte=self.now)
            links = _with_local_side(self.ac.links.filter(due))
        by_marker = {link.marker: link for link in links}
        by_remote_id = {link.remote_id: link for link in links if link.remote_id}
        for link in links:
            if not pull and link.next_attempt_at and link.next_attempt_at > self.now and link.failures:
                continue
            if not pull and self.ac.moved_from and link.remote_id and not self._holds(link.remote_id):
                # Until the first full listing at the new place decides it (`_confirm_after_move`),
                # the id may name the old place's entry (Graph and EWS ids name an entry in the
                # whole mailbox, a CalDAV path one of the old calendar): writing it would change
                # the entry the move leaves as it was. Left pending for that listing (review F5).
                continue
            event = remote.pop(link.marker, None)
            if event is None and link.remote_id:
                event = next((e for k, e in list(remote.items()) if e.remote_id == link.remote_id), None)
                if event is not None:
                    remote.pop(event.marker or event.remote_id, None)
            if event is not None and self.ac.moved_from and event.remote_id and event.remote_id != link.remote_id:
                # Found by our marker at another place of the new server: that entry is ours to
                # update from now on, never one to create a second time.
                link.remote_id, link.version = event.remote_id, event.version or ""
                SyncLink.objects.filter(pk=link.pk).update(remote_id=link.remote_id, version=link.version)
            gone = event is None and link.remote_id in gone_ids
            self._process(link, event, gone=gone)
        self._flush_bulk()
        self._flush_pulls()
        new = [event for key, event in remote.items() if event.remote_id not in by_remote_id and key not in by_marker]
        # `_import_new` lets go of each batch's entries once they are written: nothing else may keep
        # them, or a first import of thousands holds every entry's text and parse to its end.
        remote.clear()
        if pull:
            page.changed.clear()
        self._import_new(new)
        if pull and self.ac.moved_from and page.full:
            self._end_move()
        return self.report

    def _holds(self, remote_id: str) -> bool:
        """Does `remote_id` surely name an entry of the linked calendar and no other? Only a
        provider that tells from the id alone (`holds`: a CalDAV path inside the calendar's
        collection) can say so; Graph and EWS ids name an entry anywhere in the mailbox: False."""
        holds = getattr(self.provider, "holds", None)
        return holds is not None and holds(self.calendar, remote_id)

    def _end_move(self) -> None:
        """The first full listing after a move (`AgentCalendar.moved_from`) is done: say what it
        found and re-created, and let deletions count again from the next listing, unless some
        linked entry could not be asked for (the next listing asks again)."""
        counts, where, before = self.after_move, self.calendar.calendar_id, self.ac.moved_from
        missing, recreated, place = counts["missing"], counts["recreated"], self._new_place()
        if recreated >= missing:
            created = f"{missing} not there and re-created {place}"
        else:  # a create the new server refused or did not answer: its own line says why
            created = (
                f"{missing} not there, {recreated} of them re-created {place} and "
                f"{missing - recreated} not yet (see their failed lines; the next syncs try again)"
            )
        # A link saved again with the calendar it had (its name typed again) is no move "from X to X".
        moved = "relinked to the calendar it held already" if before == where else f"after the move from {before}"
        message = (
            f"First full listing at {where} {moved}: {counts['found']} linked "
            f"entries found there, {created}, none deleted."
        )
        if counts["unanswered"]:
            message += (
                f" {counts['unanswered']} could not be asked for: the next listing still takes no missing "
                "entry for deleted."
            )
        else:
            message += " From the next listing on, an entry deleted there is deleted in the helpdesk."
            self.ac.moved_from = ""
        logger.info("%s: %s", self.ac, message)
        self._log(In, "first listing after move", SyncLogEntry.Result.OK, message=message)
        if not self.ac.moved_from and self.ac.relink:
            self._clean_old_calendar()

    def _new_place(self) -> str:
        """The log's words for where a move put the entries: another calendar (a relink,
        `AgentCalendar.relink`) or the same calendar on another server."""
        return "in the new calendar" if self.ac.relink else "on the new server"

    def _clean_old_calendar(self) -> None:
        """The relink's first listing re-created the helpdesk's entries at the new place: with the
        admin's "remove" tick box (`AgentCalendar.relink["remove"]`), delete from the old calendar
        the entries the helpdesk put there (ids kept at the relink: our own only, never the
        technician's), one log line saying how many. An entry already gone counts as removed; one
        the server refuses stays, named in the line, as does one whose re-create at the new place is
        not recorded yet (its only copy). The relink is over either way."""
        relink, self.ac.relink = self.ac.relink, {}
        # Unless an admin relinked it again meanwhile (another old place: `_sync_held` keeps that move).
        AgentCalendar.objects.filter(pk=self.ac.pk, moved_from=self.moved_from).update(relink={})
        old, ids = relink.get("from") or "", relink.get("remove") or []
        kept = set()
        for remote_id, snapshot in self.ac.links.values_list("remote_id", "snapshot"):
            kept.add(remote_id)  # never an entry we now hold
            kept.add(((snapshot or {}).get(RECREATE_AFTER_MOVE) or {}).get("was"))  # not re-created yet
        ids = [remote_id for remote_id in ids if remote_id not in kept]
        if not old or not ids:
            return
        calendar = RemoteCalendar(mailbox=self.ac.mailbox_address, calendar_id=old)
        removed, errors = 0, []
        for remote_id in ids:
            try:
                _call(lambda remote_id=remote_id: self.provider.delete(calendar, RemoteRef(remote_id, None)))
            except RemoteNotFound:
                pass
            except ProviderError as error:
                errors.append(f"{remote_id}: {limits.describe(error)}")
                continue
            removed += 1
        message = f"Removed {removed} of the helpdesk's entries from the old calendar {old} after the relink"
        message += f"; {len(errors)} could not be removed and stay there ({'; '.join(errors[:3])})." if errors else "."
        result = SyncLogEntry.Result.ERROR if errors else SyncLogEntry.Result.OK
        self._log(Out, "remove from old calendar", result, message=message)

    def _list_changes(self, links: list[SyncLink]):
        # After a move the whole calendar is listed, whatever token is kept (`_confirm_after_move`).
        token = (self.ac.sync_token or None) if not self.ac.moved_from else None
        every = timedelta(hours=_setting("SYNC_FULL_RESYNC_HOURS", 24))
        if token and (self.ac.full_sync_at is None or self.ac.full_sync_at <= self.now - every):
            # The window moves with time: an entry no change ever reported can enter it unseen by the
            # incremental mechanism, so the window is listed in full now and then.
            token = None
        # Our own writes come back in the next change report; with the version we stored from the
        # write, a system that reports versions need not read them again.
        known = {link.remote_id: link.version for link in links if link.remote_id and link.version}
        series = {link.remote_id for link in links if link.remote_id in known and _maybe_series(link)}

        def listing(token: str | None):
            return self.provider.list_changes(
                self.calendar, token, self.window, known_versions=known, known_series=series
            )

        try:
            page = _call(lambda: listing(token))
        except SyncTokenExpired:
            self._log(In, "full resync", SyncLogEntry.Result.OK, message="The server refused our sync token.")
            self.report.full_resync = True
            page = _call(lambda: listing(None))
        self.ac.sync_token = page.next_token or ""
        if page.full:
            self.ac.full_sync_at = self.now
        changed, page.changed = page.changed, []
        for event in changed:
            if event.declined and event.remote_id:
                # Declined but kept in view (Outlook's "keep declined", Google's struck-through
                # entry): the technician is not taking part, as if they had deleted it.
                page.deleted.append(event.remote_id)
            elif self._bounded(event) is not None:
                page.changed.append(event)
            elif event.remote_id:
                page.unchanged.append(event.remote_id)  # refused, not gone: a full listing must not delete it
        for remote_id in page.deleted:
            self.ac.import_retry.pop(remote_id, None)
        for remote_id, reason in page.unreadable.items():
            self._unreadable(remote_id, reason)
            page.unchanged.append(remote_id)  # unread, not gone: a full listing must not delete it
        return page

    def _unreadable(self, remote_id: str, reason: str) -> None:
        """An entry the provider could not read at all: a log line naming it by its id with the
        plain reason, the calendar's error on the sync page, and a new read at the next pull."""
        reason = limits.clean_text(reason).strip() or "the entry could not be read (no reason given)."
        message = f"The entry {limits.clean_text(remote_id)[:120]} was not imported: {reason}"
        self.report.failed += 1
        self.report.errors.append(message)
        again = remote_id in self.ac.import_retry
        self.ac.import_retry[remote_id] = reason[:500]
        self._log_refusal(self._log_entry(In, "read", SyncLogEntry.Result.ERROR, message=message[:2000]), again=again)

    def _bounded(self, event: RemoteEvent | None) -> RemoteEvent | None:
        """The entry within the limits on what one entry may cost (sync/limits.py); None for one
        refused whole (too large), which is logged and read again at the next pull."""
        if event is None:
            return None
        try:
            return limits.bound_event(event)
        except limits.EntryTooLarge as error:
            self._import_failed(event, error, operation="read")
            return None

    def _read_failed_again(self, page, links: list[SyncLink]) -> None:
        """Entries whose import or update failed are read again now, at the next pull, even when the
        change report does not list them (it reports each change once)."""
        listed = {event.remote_id for event in page.changed} | set(page.deleted) | set(page.unchanged)
        wanted = [rid for rid in self.ac.import_retry if rid not in listed]
        wanted += [link.remote_id for link in links if link.failures and link.remote_id not in listed | {""}]
        for remote_id in dict.fromkeys(wanted):
            try:
                found = _call(
                    lambda remote_id=remote_id: self.provider.get(
                        self.calendar, RemoteRef(remote_id, None), self.window
                    )
                )
            except UnreadableEntry as error:
                self._unreadable(remote_id, str(error))
                continue
            except EntryRefused as error:
                if self._judged(error) is error:  # this entry's alone; else the calendar's, said once
                    self._unreadable(remote_id, str(error))
                continue
            except ProviderError as error:
                logger.info("Could not read %s again: %s", remote_id, error)
                continue
            if found is None:
                self.ac.import_retry.pop(remote_id, None)
                continue
            if self._bounded(found) is not None:
                page.changed.append(found)
            else:
                page.unchanged.append(remote_id)

    def _heal_duplicates(self, page, links: list[SyncLink]) -> dict[str, RemoteEvent]:
        """The listed entries by marker (or id). A second entry with one of our own markers (a create
        the server finished after we gave up on it, a copy at another place) is deleted remotely:
        the linked entry stays (asked for directly when the listing does not say whether it is still
        there), else the first listed one."""
        linked = {link.marker: link for link in links if link.remote_id}
        groups: dict[str, list[RemoteEvent]] = {}
        for event in page.changed:
            groups.setdefault(event.marker or event.remote_id or "", []).append(event)
        remote: dict[str, RemoteEvent] = {}
        for key, group in groups.items():
            own = key.startswith(OWN_MARKER_PREFIX)
            link = linked.get(key) if own else None
            keep = next((e for e in group if link is not None and e.remote_id == link.remote_id), None)
            extras = [e for e in group if e is not keep]
            if keep is None and link is not None and not self._still_there(link, page):
                keep = extras.pop(0)  # the linked entry is gone: this one takes its place
            elif keep is None and link is None:
                keep = extras.pop(0)
            if keep is not None:
                remote[key] = keep
            if own:
                for extra in extras:
                    self._delete_duplicate(key, extra, keep.remote_id if keep is not None else link.remote_id)
        return remote

    def _still_there(self, link: SyncLink, page) -> bool:
        if link.remote_id in page.unchanged:
            return True
        if link.remote_id in page.deleted:
            return False
        try:
            return (
                _call(lambda: self.provider.get(self.calendar, RemoteRef(link.remote_id, None), self.window))
                is not None
            )
        except ProviderError:
            return True  # unsure: keep the link where it is, the other entry is dealt with next time

    def _delete_duplicate(self, marker: str, extra: RemoteEvent, kept_id: str) -> None:
        try:
            _call(lambda: self.provider.delete(self.calendar, RemoteRef(extra.remote_id, None)))
        except ProviderError as error:
            self.report.failed += 1
            self.report.errors.append(str(error))
            self._log(Out, "delete duplicate", SyncLogEntry.Result.ERROR, subject=extra.subject, message=str(error))
            return
        self._log(
            Out,
            "delete duplicate",
            subject=extra.subject,
            message=f"A second entry carried our marker {marker} (at {extra.remote_id}); it was removed, "
            f"the one at {kept_id} stays.",
        )

    def _confirm_missing(self, page, remote: dict[str, RemoteEvent], links: list[SyncLink]) -> set[str]:
        """Remote ids of linked entries that are gone: reported deleted, missing from a full listing,
        or (asked one by one) missing from a suspicious empty listing or from a change report that
        cannot know them (created after the token was taken). An entry a direct read still finds is
        put into `remote` as it is now. The first full listing after a move goes
        `_confirm_after_move`'s way."""
        if self.ac.moved_from and page.full:
            return self._confirm_after_move(page, remote, links)
        listed = {event.remote_id for event in remote.values()} | set(page.unchanged)
        listed_markers = set(remote)
        gone = set(page.deleted)
        known = [link for link in links if link.remote_id and link.remote_hash and self._in_window(link)]
        to_ask: list[SyncLink] = []
        empty_listing = False
        if page.full:
            missing = [link for link in known if link.remote_id not in listed and link.marker not in listed_markers]
            # Entries the server listed with the version we hold (`unchanged`) were listed too: a
            # listing of only those is not an empty calendar.
            listed_count = len(page.changed) + len(page.unchanged)
            if missing and missing_need_confirming(full_listing=True, listed=listed_count, known=len(known)):
                empty_listing = True
                to_ask = missing
            else:
                gone |= {link.remote_id for link in missing}
        else:
            # A change report covers what happened after its token; an entry we created after the token
            # was taken and that was deleted before this pull may appear in no report (EWS says nothing).
            to_ask = [
                link
                for link in links
                if link.snapshot.get("created_after_token")
                and link.remote_id
                and link.remote_id not in listed | gone
                and link.marker not in listed_markers
            ]
        answers = {"gone": 0, "there": 0, "unanswered": 0}
        for link in to_ask:
            try:
                found = _call(
                    lambda link=link: self.provider.get(self.calendar, RemoteRef(link.remote_id, None), self.window)
                )
            except ProviderError as error:
                logger.info("Could not confirm %s: %s", link.remote_id, error)
                answers["unanswered"] += 1
                continue
            if found is None:
                gone.add(link.remote_id)
                answers["gone"] += 1
            else:
                answers["there"] += 1
                if self._bounded(found) is not None:
                    remote[found.marker or found.remote_id or link.marker] = found
        if empty_listing:
            self._log(In, "full listing", SyncLogEntry.Result.SKIPPED, message=_empty_listing_message(answers))
        _clear_created_after_token(links)
        return gone

    def _confirm_after_move(self, page, remote: dict[str, RemoteEvent], links: list[SyncLink]) -> set[str]:
        """The first full listing at a new place (`AgentCalendar.moved_from`: a new server address, a
        calendar relinked to another URL), which may never have held our entries. A linked entry it
        does not list (by id or by our marker), in the window or not, is not taken for deleted:

        - an id that names no entry of this calendar (`provider.holds`: a path into another calendar
          of the same server after a relink, review F1) is not there, without asking: reading it
          would find the old calendar's copy;
        - any other is asked for directly. Found: put into `remote` as it is now (kept and updated as
          usual). Not there, or refused for good (an id or a path the new place rejects: review F2):
          returned, and `_process` pushes it again as a new entry (`_not_at_new_place`) instead of
          deleting its appointment. Only a passing failure (TransientError, the server unreachable)
          leaves it unanswered, and the next listing asks again."""
        listed = {event.remote_id for event in remote.values()} | set(page.unchanged)
        self.after_move["found"] += len(
            {link.pk for link in links if link.remote_id in listed or link.marker in remote}
        )
        holds = getattr(self.provider, "holds", None)
        absent: set[str] = set()
        for link in links:
            if not link.remote_id or link.remote_id in listed or link.marker in remote:
                continue
            if holds is not None and not holds(self.calendar, link.remote_id):
                absent.add(link.remote_id)
                continue
            try:
                found = _call(
                    lambda link=link: self.provider.get(self.calendar, RemoteRef(link.remote_id, None), self.window)
                )
            except (TransientError, ConnectionProblem) as error:
                logger.info("Could not ask for %s after the move: %s", link.remote_id, error)
                self.after_move["unanswered"] += 1
                continue
            except ProviderError as error:
                logger.info(
                    "%s refused at the new place after the move (taken as not there): %s", link.remote_id, error
                )
                absent.add(link.remote_id)
                continue
            if found is None:
                absent.add(link.remote_id)
            else:
                self.after_move["found"] += 1
                if self._bounded(found) is not None:
                    remote[found.marker or found.remote_id or link.marker] = found
        _clear_created_after_token(links)
        return absent

    def _not_at_new_place(self, link: SyncLink, *, to_create: bool) -> None:
        """A linked entry the calendar's new place does not hold (`AgentCalendar.moved_from`): not
        a deletion there, as that place never held it. The link forgets the old place's id, version
        and synced state, so the planner pushes it as a new entry (rule 2: one create, idempotent on
        our marker, so never a second copy); the sync log says it was re-created once that create
        is recorded (`RECREATE_AFTER_MOVE`, `_recreated`), in this run or a later one when the new
        server refused it or was not reached. `to_create`: the helpdesk still has the entry for this
        technician (counted as waiting for its create in the move's summary: `_end_move`). The
        create starts from the entry as last read (`snapshot["template_raw"]`, as a split's new half
        does: `_to_create`), so what the helpdesk does not model (X- properties, categories, the
        user's alarms) comes back with it; the connectors leave out what named the old entry (href,
        ids, version tag)."""
        if to_create:
            self.after_move["missing"] += 1
        dropped = ("remote", "remote_raw", SENT_UNCONFIRMED, REFUSED_WRITE, "created_after_token")
        moved = {"at": self.calendar.calendar_id, "from": self.ac.moved_from, "was": link.remote_id}
        link.remote_id = link.version = link.local_hash = link.remote_hash = ""
        raw = link.snapshot.get("remote_raw")
        link.snapshot = {k: v for k, v in link.snapshot.items() if k not in dropped}
        link.snapshot[RECREATE_AFTER_MOVE] = moved
        if raw:
            link.snapshot["template_raw"] = raw  # dropped by `_synced` once the create is recorded
        link.failures, link.next_attempt_at = 0, None
        SyncLink.objects.filter(pk=link.pk).update(
            remote_id="",
            version="",
            local_hash="",
            remote_hash="",
            snapshot=link.snapshot,
            failures=0,
            next_attempt_at=None,
        )

    def _left_in_old_calendar(self, link: SyncLink) -> None:
        """After a relink to another calendar (`AgentCalendar.relink`, not a server move), an entry
        the technician made in the old calendar (origin EXTERNAL) that the new one does not hold: it
        belongs to the old calendar and is not copied into the new one. Its link goes, and the
        appointment imported from it leaves this technician (gone when no one else is on it), with
        a log line. The technician's own entries come along only with a server move (the same
        calendar on another server)."""
        with transaction.atomic(), inbound.inbound(self.ac):
            if link.appointment is not None:
                inbound.remove_for_remote_deletion(link.appointment, self.agent, now=self.now)
            link.delete()
            self._log(
                In,
                "left in old calendar",
                subject=_deleted_subject(link),
                private=privacy.link_is_private(link),
                message=f"{self.agent.name}'s own entry in the calendar before the relink ({self.ac.moved_from}) "
                f"stays there and is not copied into the new calendar {self.calendar.calendar_id}; the "
                "appointment imported from it is removed from the helpdesk.",
            )
        self.report.pulled += 1

    def _recreated(self, link: SyncLink, moved: dict | None, subject: str) -> None:
        """The create of an entry the new place lacked after a move (`_not_at_new_place`) is
        recorded: its "re-create" log line, counted in the move's summary. `moved`: the link's
        `RECREATE_AFTER_MOVE` as it was before the create was recorded (None: not such a create,
        nothing to say)."""
        if not moved:
            return
        self.after_move["recreated"] += 1
        self._log(
            Out,
            "re-create",
            subject=subject,
            link=link,
            message=f"Not on the calendar at {moved['at']} after the move from {moved['from']} "
            f"(was {moved['was']}): re-created {self._new_place()}, not deleted.",
        )

    def _in_window(self, link: SyncLink) -> bool:
        if link.span_start is None:
            return True
        return link.span_start < self.window.end and (link.span_end is None or link.span_end > self.window.start)

    # --- one item ---

    def _local_event(self, link: SyncLink, *, on_calendar: bool = False) -> RemoteEvent | None:
        """The helpdesk's side of a link as an entry; None when its appointment is gone or no
        longer on this technician. Reads the appointment's prefetched relations (`_with_local_side`)."""
        appointment = link.appointment
        if appointment is None:
            return None
        if not on_calendar and all(agent.pk != self.agent.pk for agent in mapping.agents_of(appointment)):
            return None
        if appointment.master_id is not None and not self._own_occurrence(appointment):
            return None
        before = None
        if link.snapshot.get("remote") and mapping.reads_remote_before(appointment):
            before = mapping.from_data(link.snapshot["remote"])
        local = self._entry_of(link, appointment, before)
        # Read only by a create: a linked entry created again stands in for the gone one.
        local.replaces = link.remote_id or None
        return local

    def _own_occurrence(self, occurrence: Appointment) -> bool:
        """Is this occurrence, linked on its own, a one-off entry of this technician's
        (integrations.services._mark_occurrence_links)? Not when it is cancelled, nor when the
        technician is on its series: the series' entry holds it then (an override), and a one-off
        entry would show it twice."""
        if occurrence.is_cancelled:
            return False
        return all(agent.pk != self.agent.pk for agent in mapping.agents_of(occurrence.master))

    def _entry_of(self, link: SyncLink, appointment: Appointment, before: RemoteEvent | None) -> RemoteEvent:
        """`mapping.local_event` of the link's appointment for this technician; `before`: the remote
        entry as last synced (None when not read: `mapping.reads_remote_before`)."""
        return mapping.local_event(
            appointment,
            settings=self.settings,
            marker=link.marker,
            templated=link.origin == SyncLink.Origin.HELPDESK,
            remote_before=before,
            agent=self.agent,
        )

    def _remote_before(self, link: SyncLink) -> RemoteEvent | None:
        """The remote entry as last synced, with its raw form as last read."""
        if not link.snapshot.get("remote"):
            return None
        before = mapping.from_data(link.snapshot["remote"])
        before.raw = link.snapshot.get("remote_raw")
        before.remote_id, before.version, before.marker = link.remote_id or None, link.version or None, link.marker
        return before

    def _pull_base(self, link: SyncLink, event: RemoteEvent) -> RemoteEvent | None:
        """The remote entry as last synced (`_remote_before`) that a pulled change is read against:
        its reminder is the entry's own now unless the reminder changed there
        (`_reminder_changed_there`), so a link synced before the reminders were kept takes none."""
        before = self._remote_before(link)
        if before is None or _reminder_changed_there(link, event):
            return before
        return dataclasses.replace(before, reminder_minutes=event.reminder_minutes)

    def _process(self, link: SyncLink, event: RemoteEvent | None, *, gone: bool, reread: bool = True) -> str:
        """Plan and apply one linked item. A write refused because our version tag is stale (412,
        ErrorIrresolvableConflict) reads the entry as it is now and decides once more with it, so a
        version that changed unseen (a re-saved object, a dismissed reminder) never blocks the item."""
        local = self._local_event(link)
        if local is None and link.origin == SyncLink.Origin.EXTERNAL and link.appointment is not None:
            self._keep_own_entry(link, gone=gone)
            return Op.NOTHING
        if local is None and not link.remote_id and link.snapshot.get(UNCONFIRMED_CREATE):
            return self._settle_unconfirmed_create(link, event)
        if event is None and local is not None and not link.remote_id and link.snapshot.get(UNCONFIRMED_CREATE):
            event = self._find_own_entry(link)
        if event is not None and link.snapshot.get(SENT_UNCONFIRMED):
            self._adopt_own_write(link, event)
        if gone and self.ac.moved_from and self.ac.relink and link.origin == SyncLink.Origin.EXTERNAL:
            self._left_in_old_calendar(link)
            return Op.NOTHING
        if gone and self.ac.moved_from:
            self._not_at_new_place(link, to_create=local is not None)
            gone = False
            if local is not None:
                local.replaces = None  # a create of our marker alone, as a retry of it will be
        if gone:
            remote_hash = None
        elif event is not None:
            remote_hash = mapping.content_hash(event)
        else:
            remote_hash = link.remote_hash or None
        # Whether the appointment is shared is read only when the remote side changed (it can
        # then only be a technician's answer): an unchanged poll reads nothing more.
        remote_changed = remote_hash is not None and remote_hash != (link.remote_hash or None)
        local_hash = mapping.content_hash(local) if local is not None else None
        if local_hash is not None and local_hash == link.local_hash and _reminder_changed_here(link, local):
            # Only the helpdesk's reminder changed: a change of the helpdesk's side all the same.
            local_hash = f"{local_hash}:reminder"
        item = Item(
            synced_local=link.local_hash or None,
            synced_remote=link.remote_hash or None,
            local=local_hash,
            remote=remote_hash,
            held=_held(link),
            shared=remote_changed and link.appointment is not None and inbound.is_shared(link.appointment),
        )
        decision = plan_item(item, self.winner)
        message = None
        ours = link.origin == SyncLink.Origin.HELPDESK  # a technician's own entry is never tidied up
        if (
            decision.op == Op.NOTHING
            and ours
            and local is not None
            and local.is_recurring
            and link.remote_id
            and not gone
        ):
            held = event if event is not None else self._orphans_left(link, local)
            message = self._orphans_message(local, held)
            if message is not None:  # a pull's drop that did not reach the calendar yet: sent again
                decision = Decision(Op.PUSH_UPDATE)
        if self._reminder_only_there(link, item, decision, local, event):
            try:
                return self._take_their_reminder(link, decision, local, event)
            except Exception as error:  # a bad item must not stop the others
                logger.exception("Sync of %s failed", link)
                self._failed(link, decision, error)
                return decision.op
        reminders_contested = decision.op == Op.PUSH_UPDATE and _reminders_contested(link, item, event)
        if reminders_contested:
            # Both sides changed the reminder alone and the helpdesk wins (SPEC S3.8): a conflict,
            # pushed whole (no compared field to merge).
            decision = Decision(Op.PUSH_UPDATE, conflict=True)
            message = (
                "Both sides changed the reminder; the helpdesk's version won "
                f"({self.agent.name}'s calendar had {_minutes_words(event.reminder_minutes)})."
            )
        if self._waits(link, decision):
            return Op.NOTHING
        try:
            merge = None if reminders_contested else self._three_way(link, decision, local, event)
            if merge is not None:
                self._merge(link, merge, local, event, reread=reread)
            else:
                self._apply(link, decision, local, event, reread=reread, message=message)
        except (VersionConflict, RemoteNotFound) as error:
            self._refused(link, decision, error, reread=reread)
        except ProviderError as error:
            self._failed(link, decision, error)
        except Exception as error:  # a bad item must not stop the others
            logger.exception("Sync of %s failed", link)
            self._failed(link, decision, error)
        return decision.op

    def _reminder_only_there(
        self, link: SyncLink, item: Item, decision: Decision, local: RemoteEvent | None, event: RemoteEvent | None
    ) -> bool:
        """Does the helpdesk take the external calendar's reminder, alone (`_take_their_reminder`)?
        Yes when nothing compared changed there (the content hash leaves reminders out) but the
        reminder did, and the helpdesk's side did not change since the last sync, or changed only
        its reminder and the external calendar wins (or both chose the same). Never for an entry
        several technicians share: one technician's alarm is not the others' (the helpdesk's stays)."""
        if local is None or event is None or link.appointment is None or item.remote != item.synced_remote:
            return False
        if not _reminder_changed_there(link, event):
            return False
        if decision.op == Op.NOTHING:
            taken = True
        elif decision.op == Op.PUSH_UPDATE and item.local == f"{item.synced_local}:reminder":
            taken = self.winner == Winner.EXTERNAL or local.reminder_minutes == event.reminder_minutes
        else:
            taken = False
        return taken and not inbound.is_shared(link.appointment)

    def _take_their_reminder(self, link: SyncLink, decision: Decision, local: RemoteEvent, event: RemoteEvent) -> str:
        """The external calendar's new reminder (`_reminder_only_there`) written to the appointment
        (minutes before the start; None: the alarm was removed), both sides recorded as synced so
        nothing is pushed back, and one log line. When the helpdesk had changed its reminder too, to
        another value, the external calendar won: a conflict, logged and counted as others are, with
        the helpdesk's lost reminder. A helpdesk-made entry keeps its reminder when its alarm was
        removed there while a global default is set (`inbound.apply_remote_reminder`: empty is the
        default there); the removal stays on the calendar (`_keeping_their_reminder`). Returns the
        operation done (PULL_UPDATE)."""
        conflict = decision.op == Op.PUSH_UPDATE and local.reminder_minutes != event.reminder_minutes
        with transaction.atomic(), inbound.inbound(self.ac):
            inbound.apply_remote_reminder(
                link.appointment,
                event.reminder_minutes,
                templated=link.origin == SyncLink.Origin.HELPDESK,
                settings=self.settings,
            )
            link.appointment.refresh_from_db()
            mapping.forget_related(link.appointment)
            link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
            link.snapshot = {**link.snapshot, "remote": mapping.to_data(event)}
            self._synced(link, self._local_event(link), event, raw=event.raw)
            self.report.pulled += 1
            self.report.conflicts += 1 if conflict else 0
            if conflict:
                message = (
                    "Both sides changed the reminder; the external calendar's version won "
                    f"(the helpdesk had {_minutes_words(local.reminder_minutes)})."
                )
            else:
                message = f"Changed in {self.agent.name}'s calendar: reminder."
            # Logged as every pulled update is (a conflict: result, count and the lost value).
            overwritten = {"reminder_minutes": local.reminder_minutes} if conflict else None
            pulled = Decision(Op.PULL_UPDATE, conflict=conflict)
            self._pull_log_entry(link, pulled, event, link.appointment, overwritten, said=[message]).save()
        return Op.PULL_UPDATE

    def _waits(self, link: SyncLink, decision: Decision) -> bool:
        """Whether this item's write is left alone now: the calendar's rights were found gone in this
        run (the write waits, pending, for them to come back), or the calendar refused this entry's
        last write and the link's back-off has not ended (a pull does not send it again each time)."""
        if decision.op not in PUSHES:
            return False
        if self.report.rights_problem is not None:
            return True
        backing_off = link.failures and link.next_attempt_at is not None and link.next_attempt_at > self.now
        return bool(backing_off and link.snapshot.get(REFUSED_WRITE))

    def _judged(self, error: ProviderError) -> ProviderError:
        """An EntryRefused read against the calendar's effective rights, asked once a run
        (`judge_refusal`); any other error as it is. A loss of the calendar's rights (RightsLost:
        so judged, or said by the server itself) is kept on the report (the calendar is marked
        failing with it, `_sync_held`) and logged once."""
        if not isinstance(error, EntryRefused | RightsLost):
            return error
        if self.report.rights_problem is not None:
            return self.report.rights_problem
        if isinstance(error, RightsLost):
            self._lose_rights(error, write=True)  # said in the answer to a write (Google's requiredAccessLevel)
            return error
        if not error.entry_alone and not self._rights_asked:
            self._rights_asked = True
            try:
                self._rights = _call(lambda: self.provider.rights(self.calendar))
            except ProviderError as rights_error:  # unsure: the refusal stays the entry's, retried later
                logger.info("Could not ask the rights on %s: %s", self.calendar.calendar_id, rights_error)
        judged = judge_refusal(error, self._rights, self.calendar.mailbox)
        if isinstance(judged, RightsLost):
            self._lose_rights(judged, write=error.write)
        return judged

    def _lose_rights(self, problem: RightsLost, *, write: bool) -> None:
        """The calendar lost a right: kept on the report for `_sync_held`, logged once a run."""
        self.report.rights_problem = problem
        self._log(Out if write else In, "rights", SyncLogEntry.Result.ERROR, message=limits.describe(problem)[:2000])

    def _refused(self, link: SyncLink, decision: Decision, error: ProviderError, *, reread: bool) -> None:
        """A write the server refused: a stale version tag (412, ErrorIrresolvableConflict) or an
        update of an entry that is gone (404, ErrorItemNotFound) is decided once more on the entry
        as it is now (a gone one is the technician's deletion meeting the helpdesk's change: the
        planner's rule 9, a conflict); anything else fails the item."""
        if isinstance(error, VersionConflict) or decision.op == Op.PUSH_UPDATE:
            self._decide_again(link, decision, error, reread=reread)
        else:
            self._failed(link, decision, error)

    def _three_way(
        self, link: SyncLink, decision: Decision, local: RemoteEvent | None, event: RemoteEvent | None
    ) -> Merge | None:
        """Both sides changed one entry (a conflict of the planner's rule 13): which fields each
        changed since the last sync, read against the link's snapshot of both sides as last synced
        (`planner.merge_fields`). With no synced state to compare with (an old link, a lost or
        unreadable snapshot, a create whose state was lost), the sides are compared field by field
        as on a first sync (`planner.first_sight`). None where the entry is decided as one: no
        conflict, or a shared entry (the technician's answer)."""
        if not decision.conflict or decision.op not in (Op.PUSH_UPDATE, Op.PULL_UPDATE):
            return None
        if local is None or event is None or link.appointment is None:
            return None
        differing = set(mapping.differing_fields(local, event))
        synced_local, synced_remote = _synced_sides(link)
        if synced_local is None or synced_remote is None:
            return first_sight(differing=differing, winner=self.winner)
        remote_changed = mapping.changed_fields(mapping.from_data(synced_remote), event)
        sent = link.snapshot.get(SENT_UNCONFIRMED)
        if sent:
            # A push whose answer was lost, changed there since: the fields that hold what we sent
            # are our own write, not the technician's change.
            remote_changed &= mapping.changed_fields(mapping.from_data(sent["local"]), event)
        exceptions = None
        if local.is_recurring or event.is_recurring:
            # Each left-out date and occurrence changed on its own is an item of its own (S3.8,
            # trial fault 4): a date cancelled on the phone survives a helpdesk change elsewhere.
            exceptions = merge_items(
                synced_local=mapping.exception_items(mapping.from_data(synced_local)),
                local=mapping.exception_items(local),
                synced_remote=mapping.exception_items(mapping.from_data(synced_remote)),
                remote=mapping.exception_items(event),
                also_unchanged=mapping.exception_items(mapping.from_data(sent["local"])) if sent else None,
                winner=self.winner,
            )
        rekey_lands = None
        if local.is_recurring and event.is_recurring:
            # Apart (one side changed the series, the other its exceptions) only where the
            # exceptions still name instances of the series as changed (review 7 F2).
            rekey_lands = {
                "helpdesk": mapping.rekey_lands(event, local),
                "remote": mapping.rekey_lands(local, event),
            }
        return merge_fields(
            local_changed=mapping.changed_fields(mapping.from_data(synced_local), local),
            remote_changed=remote_changed,
            differing=differing,
            winner=self.winner,
            exceptions=exceptions,
            rekey_lands=rekey_lands,
        )

    def _merge(self, link: SyncLink, merge: Merge, local: RemoteEvent, event: RemoteEvent, *, reread: bool) -> None:
        """Apply a three-way merge (`_three_way`): the fields the helpdesk takes from the external
        calendar are written to the appointment first (only those: its other fields keep the
        helpdesk's changes), then what the external calendar takes from the helpdesk is pushed, on
        the entry as just read. A conflict is counted once, and its log entry names only the fields
        both sides changed, with the losing side's values (SPEC S3.8), and the request's history
        says what the losing side had. A merge without a last synced state (`merge.first_sight`)
        says so: the state is stored by this sync, so the next one merges field by field."""
        contested = set(merge.contested)
        lost_here = self.winner == Winner.EXTERNAL and bool(contested)
        link.remote_id = link.remote_id or event.remote_id or ""  # matched by marker: updated, never made twice
        items = merge.exceptions.contested if merge.exceptions is not None else None
        # The content hash leaves reminders out: a reminder changed there goes with the merge, as a
        # pulled change of other fields takes it (`_pull_base`), unless the helpdesk changed its own
        # (pushed below) or the entry is shared (one technician's alarm is not the others').
        their_reminder = (
            _reminder_changed_there(link, event)
            and not _reminder_changed_here(link, local)
            and not inbound.is_shared(link.appointment)
        )
        if merge.from_remote or their_reminder:
            overwritten = mapping.lost_values(local, event, only=contested, items=items) if lost_here else None
            with transaction.atomic(), inbound.inbound(self.ac):
                # No remote side as last synced: the helpdesk's entry as it stands is the base, so
                # exactly the fields taken from the external calendar are written.
                before = self._remote_before(link) or local
                if merge.exceptions is not None:
                    # Neither side changed the rule: each exception is merged on its own (trial F4).
                    after = mapping.with_fields(before, event, merge.from_remote - {"exdates", "overrides"})
                    before, after = mapping.with_exception_items(
                        before, after, local, event, taken=merge.exceptions.from_remote
                    )
                else:
                    after = mapping.with_fields(before, event, merge.from_remote)
                    if local.is_recurring:
                        before, after = _exceptions_on_one_series(merge, before, after, local, event)
                if their_reminder:
                    # `before` is the remote side as last synced (`_reminder_changed_there` needs it).
                    after = dataclasses.replace(after, reminder_minutes=event.reminder_minutes)
                inbound.apply_remote_update(
                    link.appointment,
                    self.agent,
                    before,
                    after,
                    templated=link.origin == SyncLink.Origin.HELPDESK,
                    settings=self.settings,
                )
                link.appointment.refresh_from_db()
                mapping.forget_related(link.appointment)
                self.report.pulled += 1
                self.report.conflicts += 1 if lost_here else 0
                self._log(
                    In,
                    "update",
                    SyncLogEntry.Result.CONFLICT if lost_here else SyncLogEntry.Result.OK,
                    subject=_import_subject(link.appointment, event),
                    link=link,
                    overwritten=overwritten,
                    message=_merge_message(merge, side=conflicts.HELPDESK)
                    + (" Reminder from the external calendar." if their_reminder else ""),
                )
                if overwritten:
                    self._tell_request(link, self._overwritten_text(link, overwritten, side=conflicts.HELPDESK))
            local = self._local_event(link)
        # The helpdesk's own new reminder goes out with the merge (the hash leaves reminders out).
        reminder = _reminder_changed_here(link, local) and local.reminder_minutes != event.reminder_minutes
        if local is not None and (
            (merge.from_helpdesk and mapping.content_hash(local) != mapping.content_hash(event)) or reminder
        ):
            won_here = self.winner == Winner.HELPDESK and bool(contested)
            decision = Decision(Op.PUSH_UPDATE, conflict=won_here, fields=merge.contested, items=items)
            message = _merge_message(merge, side=conflicts.EXTERNAL)
            self._apply(link, decision, local, event, reread=reread, message=message)
            return
        link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
        link.snapshot = {**link.snapshot, "remote": mapping.to_data(event)}
        self._synced(link, local, event, raw=event.raw)

    def _find_own_entry(self, link: SyncLink) -> RemoteEvent | None:
        """The entry a create whose outcome is unknown (`UNCONFIRMED_CREATE`) may have made, asked
        for by our marker when the listing did not bring it (a push-only run, or an entry outside
        the window): found, it is our entry to update (`_adopt_own_write`), never a second create
        that the provider would answer with the first entry as it was then. None when not found,
        or when the server could not be asked (the provider's create is idempotent on our marker)."""
        try:
            found = _call(lambda: self.provider.find_by_marker(self.calendar, link.marker, self.window))
        except ProviderError as error:
            logger.info("Could not look for %s by its marker: %s", link.marker, error)
            return None
        return self._bounded(found)

    def _adopt_own_write(self, link: SyncLink, event: RemoteEvent) -> None:
        """A push whose answer was lost (`SENT_UNCONFIRMED`) that the server made: the entry as it is
        now holds exactly what we sent, so its new version tag (ETag, change key, etag) is our own
        write, not a change made there (as Outlook and Google's own clients know their writes).
        Both sides are recorded as synced at what was sent, with the entry's id and version, and the
        item is then planned from there: a helpdesk change made since is pushed on that version, no
        conflict. An entry that differs from what we sent is left to the planner (see `_three_way`)."""
        sent = link.snapshot[SENT_UNCONFIRMED]
        remote_hash = mapping.content_hash(event)
        if remote_hash == link.remote_hash and remote_hash != sent.get("hash"):
            # The entry is as last synced: the write never landed. Forgotten, or a later change
            # made there that happens to equal it would be taken for ours.
            link.snapshot = {k: v for k, v in link.snapshot.items() if k != SENT_UNCONFIRMED}
            SyncLink.objects.filter(pk=link.pk).update(snapshot=link.snapshot)
            return
        if remote_hash != sent.get("hash"):
            return
        # A create after a move that landed: said now (`_recreated`), as a confirmed one is.
        moved = link.snapshot.get(RECREATE_AFTER_MOVE) if not link.remote_id else None
        link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
        fields = _synced_fields(mapping.from_data(sent["local"]), event, raw=event.raw, remote_hash=remote_hash)
        for name in ("local_hash", "remote_hash", "snapshot"):
            setattr(link, name, fields[name])
        SyncLink.objects.filter(pk=link.pk).update(
            remote_id=link.remote_id,
            version=link.version,
            local_hash=link.local_hash,
            remote_hash=link.remote_hash,
            snapshot=link.snapshot,
        )
        self._recreated(link, moved, mapping.from_data(sent["local"]).subject)

    def _settle_unconfirmed_create(self, link: SyncLink, event: RemoteEvent | None) -> str:
        """A create that failed with its outcome unknown (the server may have acted before the error:
        a dropped answer, a batch whose follow-up call failed), whose appointment the helpdesk then
        deleted. Our marker names the entry if it landed: a pull that lists it under our marker
        deletes it (it is the helpdesk's own, never confirmed to anyone); a pull that does not list it
        asks the server for the entry by our marker (a listing shows only the import window, and the
        entry may start outside it), deletes what that finds and else lets the link go; a push-only
        run keeps the link for the next pull."""
        if event is None and self.pulling:
            try:
                event = _call(lambda: self.provider.find_by_marker(self.calendar, link.marker, self.window))
            except ProviderError as error:  # unsure: the link stays, the next pull asks again
                self._failed(link, Decision(Op.PUSH_DELETE), error)
                return Op.NOTHING
        if event is not None:
            link.remote_id, link.version = event.remote_id or "", event.version or ""
            decision = Decision(Op.PUSH_DELETE)
            try:
                self._apply(link, decision, None, event)
            except ProviderError as error:
                self._failed(link, decision, error)
            return decision.op
        if self.pulling:
            self._apply(link, Decision(Op.FORGET), None, None)
            return Op.FORGET
        return Op.NOTHING

    def _keep_own_entry(self, link: SyncLink, *, gone: bool) -> None:
        """An imported entry (the technician's own, calendars.ownership) whose appointment the
        helpdesk took off this technician, which the helpdesk no longer allows but older data or a
        direct database change may hold: never deleted remotely (the helpdesk only changes what it
        owns). The link goes, with no remote call, and the entry is read again at the next pull,
        which imports it as this technician's own time once more (unless imports are off)."""
        message = (
            "Imported from this calendar but no longer on this technician in the helpdesk: left in the "
            "external calendar (the helpdesk never deletes a technician's own entry), read again at the next pull."
        )
        self._log(
            Out,
            "delete",
            SyncLogEntry.Result.SKIPPED,
            subject=link.snapshot.get("local", {}).get("subject", ""),
            message=message,
            private=privacy.link_is_private(link),
        )
        if link.remote_id and not gone:
            self.ac.import_retry[link.remote_id] = "Taken off this technician in the helpdesk; imported again."
        link.delete()

    def _decide_again(self, link: SyncLink, decision: Decision, error: ProviderError, *, reread: bool) -> None:
        """Our write was refused (`_refused`): read the entry as it is now and plan it once more with
        that; a second refusal, or a failed read, fails the item."""
        if not reread or not link.remote_id:
            self._failed(link, decision, error)
            return
        try:
            fresh = _call(lambda: self.provider.get(self.calendar, RemoteRef(link.remote_id, None), self.window))
        except ProviderError as read_error:
            self._failed(link, decision, read_error)
            return
        if fresh is not None and self._bounded(fresh) is None:
            return  # refused whole: logged, read again at the next pull
        self._process(link, fresh, gone=fresh is None, reread=False)

    # --- new remote entries: imported in batches ---

    def _import_new(self, events: list[RemoteEvent]) -> None:
        """Import the new remote entries the planner lets in, SYNC_IMPORT_BATCH at a time: each
        batch writes its appointments, series, links and log entries with a fixed number of
        statements in one transaction. An entry the helpdesk cannot store, or a batch that fails
        as a whole, goes the one-by-one way (`_process_new_remote`), so a bad entry fails alone.
        Empties `events`: entries are planned (hashed, decided) a batch at a time and let go once
        written, so a big import's peak memory is about its entries, not its entries plus all
        they became (issue 14: a plan held for every entry of a 5,000-entry listing is 2 MiB)."""
        size = max(1, int(_setting("SYNC_IMPORT_BATCH", 500)))
        events.reverse()  # taken from the end, in the listing's order, each leaving the list
        wanted: list[tuple[RemoteEvent, Decision]] = []
        hashes: dict[int, str] = {}  # by id(event): hashed once, for the plan and the link
        while events:
            event = events.pop()
            remote_hash = mapping.content_hash(event)
            decision = self._plan_new(event, remote_hash=remote_hash)
            if decision.op == Op.PULL_CREATE:
                hashes[id(event)] = remote_hash
                wanted.append((event, decision))
            if len(wanted) == size or (wanted and not events):
                self._import_chunk(wanted, hashes)
                wanted, hashes = [], {}

    def _import_chunk(self, chunk: list[tuple[RemoteEvent, Decision]], hashes: dict[int, str]) -> None:
        """One batch of `_import_new`: (entry, its PULL_CREATE decision) pairs, `hashes` their
        content hashes by id(entry)."""
        rows, alone = [], []
        for event, decision in chunk:
            if event.is_recurring and self.budget <= 0:
                alone.append((event, decision))  # the one-by-one way says it waits for the next pull
                continue
            try:
                row = inbound.import_row(self.agent, event, now=self.now, settings=self.settings)
            except Exception:  # told, with its message, by the one-by-one way below
                alone.append((event, decision))
                continue
            self.budget -= row.occurrences  # an upper bound, known before anything is written
            rows.append(row)
        if rows:
            try:
                with transaction.atomic(), inbound.inbound(self.ac):
                    self._import_batch(rows, hashes)
            except Exception:
                logger.warning("A batch of %s imports failed; importing them one by one", len(rows), exc_info=True)
                alone = list(chunk)
        for event, decision in alone:
            self._process_new_remote(event, decision)

    def _import_batch(self, rows: list[inbound.ImportRow], hashes: dict[int, str]) -> None:
        """Write one batch of imports and their links and log entries; the links' local side is
        built from the appointments just written (nothing is read back). `hashes`: the entries'
        content hashes by id(event)."""
        appointments = inbound.import_remote_events(self.agent, rows, now=self.now, settings=self.settings)
        # Links and log entries as rows: nothing reads them back as instances.
        links = []
        for row, appointment in zip(rows, appointments, strict=True):
            event = row.event
            marker = event.marker or event.remote_id
            # The entry just read is the remote side as last synced: given as it is, not written
            # into the snapshot and read back from it.
            local = mapping.local_event(
                appointment, settings=self.settings, marker=marker, templated=False, remote_before=event
            )
            links.append(
                {
                    "agent_calendar_id": self.ac.pk,
                    "origin": SyncLink.Origin.EXTERNAL,
                    "marker": marker,
                    "appointment_id": appointment.pk,
                    "remote_id": event.remote_id or "",
                    "version": event.version or "",
                    **_synced_fields(local, event, raw=event.raw, remote_hash=hashes.get(id(event))),
                }
            )
        keys = bulk.insert_rows(SyncLink, links)
        for row in rows:
            self.ac.import_retry.pop(row.event.remote_id, None)
        bulk.insert_rows(
            SyncLogEntry,
            [
                {
                    "agent_calendar_id": self.ac.pk,
                    "link_id": key,
                    **_log_fields(
                        In,
                        "create",
                        SyncLogEntry.Result.OK,
                        _import_subject(appointment, row.event),
                        " ".join(row.event.notes),  # what the limits changed on reading, if anything
                        None,
                        private=privacy.snapshot_is_private(link["snapshot"]),
                    ),
                }
                for row, appointment, link, key in zip(rows, appointments, links, keys, strict=True)
            ],
            keys=False,  # nothing reads the log entries back
        )
        self._announce_imports(appointments)
        self.report.pulled += len(rows)

    def _announce_imports(self, appointments: list[Appointment]) -> None:
        """An import reaches the technician's other calendars like any new appointment: through
        `appointment_changed`, whose sync receiver marks it for those calendars. With no other
        calendar (the usual case) there is nobody to tell, and no signal is sent; e-mail is never
        sent about an entry the technician made in their own calendar."""
        if self._other_calendars is None:
            self._other_calendars = AgentCalendar.objects.filter(agent_id=self.agent.pk).exclude(pk=self.ac.pk).exists()
        if not self._other_calendars:
            return
        for appointment in appointments:
            appointment_changed.send(
                sender=Appointment,
                appointment=appointment,
                change=Change.CREATED,
                agent_ids_before=frozenset(),
                by=None,
            )

    def _plan_new(self, event: RemoteEvent, *, remote_hash: str | None = None) -> Decision:
        own = (event.marker or "").startswith(OWN_MARKER_PREFIX)
        may_import = self.agent.import_external and not own and mapping_overlaps(event, self.window)
        remote_hash = remote_hash or mapping.content_hash(event)
        return plan_item(Item(None, None, None, remote_hash, may_import=may_import), self.winner)

    def _process_new_remote(self, event: RemoteEvent, decision: Decision | None = None) -> None:
        decision = decision or self._plan_new(event)
        if decision.op != Op.PULL_CREATE:
            self.ac.import_retry.pop(event.remote_id, None)  # no longer to be imported: stop reading it again
            return
        if event.is_recurring and self.budget <= 0:
            self._import_failed(
                event,
                f"This sync already made {limits.occurrence_budget()} occurrences "
                "(SYNC_MAX_OCCURRENCES_PER_SYNC); the series comes in at the next pull.",
                operation="create",
                result=SyncLogEntry.Result.SKIPPED,
            )
            return
        link = SyncLink(agent_calendar=self.ac, origin=SyncLink.Origin.EXTERNAL, marker=event.marker or event.remote_id)
        try:
            self._apply(link, decision, None, event)
        except UnreadableEntry as error:
            # A known refusal with a plain reason (the sync log keeps it): one line, no traceback,
            # at every pull that meets it again (trial F8).
            logger.info("Import of %s refused: %s", event.remote_id, limits.describe(error))
            self._import_failed(event, error, operation="create")
            return
        except Exception as error:  # one bad entry never stops the others: it names itself and waits
            logger.exception("Import of %s failed", event.remote_id)
            self._import_failed(event, error, operation="create")
            return
        self.ac.import_retry.pop(event.remote_id, None)

    def _import_failed(
        self, event: RemoteEvent, error: BaseException | str, *, operation: str, result=SyncLogEntry.Result.ERROR
    ) -> None:
        """An entry that could not be imported: a log line with a plain reason naming the entry, the
        calendar's error on the technician's sync page, and a new read of it at the next pull."""
        reason = error if isinstance(error, str) else limits.describe(error)
        message = f"{limits.name_of(event)} was not imported: {reason}"
        self.report.failed += 1
        self.report.errors.append(message)
        again = bool(event.remote_id) and event.remote_id in self.ac.import_retry
        if event.remote_id:
            self.ac.import_retry[event.remote_id] = reason[:500]
        entry = self._log_entry(
            In, operation, result, subject=event.subject, message=message, private=privacy.event_is_private(event)
        )
        self._log_refusal(entry, again=again)

    def _log_refusal(self, entry: SyncLogEntry, *, again: bool) -> None:
        """Queue the log line of an entry that could not be imported, or of a push that failed again,
        written at the end of the run (`_flush_refusals`): when the entry was already waiting
        (`again`: in import_retry before this pull, or its link had failed before) and its last line
        says the same, that line counts one more try and moves to now instead (trial F8: one line
        per entry and distinct reason, not one per pull or retry)."""
        self.refusals.append((entry, again))

    def _flush_refusals(self) -> None:
        """Write the queued refusal lines (`_log_refusal`) in a fixed number of statements however
        many there are: one read of the lines they may repeat, one insert of the new ones, and one
        update per distinct number of repeats (one in practice) of the lines they count again."""
        queued, self.refusals = self.refusals, []
        if not queued:
            return

        def key(entry: SyncLogEntry) -> tuple:
            return (entry.direction, entry.operation, entry.result, entry.subject, entry.message, entry.link_id)

        wanted = {key(entry) for entry, again in queued if again}
        latest: dict[tuple, SyncLogEntry] = {}
        if wanted:
            rows = SyncLogEntry.objects.filter(
                agent_calendar=self.ac, message__in={k[4] for k in wanted}, result__in={k[2] for k in wanted}
            ).order_by("created_at", "id")
            for row in rows.only("pk", "direction", "operation", "result", "subject", "message", "link_id"):
                if key(row) in wanted:
                    latest[key(row)] = row  # the last one wins: the latest line of each
        new: list[SyncLogEntry] = []
        repeats: dict[int, int] = {}
        moment = None
        for entry, again in queued:
            row = latest.get(key(entry)) if again else None
            if row is None:
                new.append(entry)
                continue
            repeats[row.pk] = repeats.get(row.pk, 0) + 1
            moment = entry.created_at if moment is None else max(moment, entry.created_at)
        bulk.insert(new)
        by_count: dict[int, list[int]] = {}
        for pk, count in repeats.items():
            by_count.setdefault(count, []).append(pk)
        for count, pks in by_count.items():
            # SET reads the row as it was: first_at takes the old created_at when it had none.
            SyncLogEntry.objects.filter(pk__in=pks).update(
                tries=F("tries") + count, created_at=moment, first_at=Coalesce("first_at", "created_at")
            )

    def _apply(
        self,
        link: SyncLink,
        decision: Decision,
        local: RemoteEvent | None,
        event: RemoteEvent | None,
        *,
        reread: bool = True,
        message: str | None = None,
    ) -> None:
        """Carry out one decision. `message`: a push's log entry's own words (a merge's), instead
        of the conflict's."""
        op = decision.op
        if op == Op.NOTHING:
            self._keep_version(link, event)
            self._keep_base(link, local, event)
            if link.pending and not _held(link):
                self._clear_pending(link)
            return
        if op in (Op.FORGET, Op.IGNORE):
            if link.pk:
                link.delete()
            return
        if op == Op.RECORD:
            if event is not None:
                link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
            raw = event.raw if event is not None else link.snapshot.get("remote_raw")
            self._synced(link, local, event or local, raw=raw)
            return
        if op == Op.ANSWER:
            self._pull_shared(link, decision, event)
            return
        if op in (Op.PUSH_CREATE, Op.PUSH_UPDATE, Op.PUSH_DELETE) and self.bulk is not None:
            self.bulk.append(_Pending(link, decision, local, event, reread=reread, message=message))
        elif op in (Op.PUSH_CREATE, Op.PUSH_UPDATE):
            self._push(link, decision, local, event, message=message)
        elif op == Op.PUSH_DELETE:
            version = (event.version if event is not None and event.version else link.version) or None
            _call(lambda: self.provider.delete(self.calendar, RemoteRef(link.remote_id, version)))
            self._deleted(link, decision, event)
        elif op in (Op.PULL_UPDATE, Op.PULL_DELETE) and self._quiet(link):
            self.pulls.append(_Pending(link, decision, local, event))
        elif op in (Op.PULL_CREATE, Op.PULL_UPDATE):
            self._pull(link, decision, event)
        elif op == Op.PULL_DELETE:
            self._pull_delete(link, decision)

    def _pull_delete(self, link: SyncLink, decision: Decision | None = None) -> None:
        """An entry deleted remotely, on its own: its appointment leaves this technician (or goes),
        the link goes, one log entry (a conflict's when the helpdesk had changed it meanwhile and
        the external calendar wins)."""
        conflict = decision is not None and decision.conflict
        with transaction.atomic(), inbound.inbound(self.ac):
            said = ""
            if link.appointment is not None:
                said = inbound.remove_for_remote_deletion(link.appointment, self.agent, now=self.now)
            link.delete()
            self._log(
                In,
                "delete",
                SyncLogEntry.Result.CONFLICT if conflict else SyncLogEntry.Result.OK,
                subject=_deleted_subject(link),
                private=privacy.link_is_private(link),
                message=self._deletion_won() if conflict else said,
                routine=not conflict,
            )
        self.report.pulled += 1
        self.report.conflicts += 1 if conflict else 0

    def _deletion_won(self) -> str:
        return (
            f"{self.agent.name} removed this from their calendar while the helpdesk changed it; "
            "the deletion won (the external calendar wins conflicts)."
        )

    def _overwritten_text(self, link: SyncLink, overwritten: dict, *, side: str, lead: bool = True) -> str:
        """The request history's words for a change a conflict overwrote (`mapping.lost_values`:
        what the losing `side` had, conflicts.HELPDESK or EXTERNAL), its times kept as instants and
        written on each reader's clock (the stored text: the technician's), a private entry's texts
        not quoted (as in the sync log): "A change on Alice's calendar was overwritten by the
        helpdesk's version. Overwritten in Alice's calendar: start ...", or "A change in the
        helpdesk was overwritten by Alice's calendar's version. Overwritten in the helpdesk: ...".
        Without `lead`, the second sentence only."""
        private = privacy.link_is_private(link)
        calendar = f"{self.agent.name}'s calendar"
        said = conflicts.describe(
            privacy.masked_values(overwritten, private=private),
            side=side,
            zone=None,
            private=private,
        ).replace("the external calendar", calendar, 1)
        if not lead:
            return said
        if side == conflicts.EXTERNAL:
            return f"A change on {calendar} was overwritten by the helpdesk's version. {said}"
        return f"A change in the helpdesk was overwritten by {calendar}'s version. {said}"

    def _tell_request(self, link: SyncLink, text: str) -> None:
        """A line in the history of the request the link's appointment belongs to, if any, so the
        coordinator sees what the sync decided (not only the technician's sync page)."""
        appointment = link.appointment
        request_id = appointment.request_id if appointment is not None else link.snapshot.get(DELETED_REQUEST)
        if request_id is not None:
            inbound.record_on_request(request_id, self.agent, text, now=self.now)

    def _deleted(self, link: SyncLink, decision: Decision | None = None, event: RemoteEvent | None = None) -> None:
        """The remote entry is gone by the helpdesk's deletion: the link goes, one log entry. A
        conflict's (the technician had changed the entry meanwhile and the helpdesk wins: planner
        rule 7) names what the technician's change had (their fields that differ from the entry as
        last synced), counts, and is told on the request."""
        subject, private = link.snapshot.get("local", {}).get("subject", ""), privacy.link_is_private(link)
        if decision is not None and decision.conflict:
            before = self._remote_before(link)
            overwritten = mapping.lost_values(event, before) if event is not None and before is not None else None
            message = f"{self._changed_while_removed()} the helpdesk's removal won (the helpdesk wins conflicts)."
            self._log(
                Out,
                "delete",
                SyncLogEntry.Result.CONFLICT,
                subject=subject,
                private=private,
                overwritten=overwritten,
                message=message,
            )
            said = self._overwritten_text(link, overwritten, side=conflicts.EXTERNAL, lead=False) if overwritten else ""
            self._tell_request(link, " ".join(part for part in (message, said) if part))
            self.report.conflicts += 1
        else:
            self._log(Out, "delete", subject=subject, link=None, private=private)
        self.report.pushed += 1
        if not link.pk:
            return
        # The link goes only for the change this run read (the `changes` compare-and-set, as
        # `_clear_pending`): a helpdesk change made while the delete was in flight (the entry given
        # back to this technician) stays pending on a link that holds nothing remote any more. The
        # next push plans it as never synced: a create when the entry is back here, else forgotten,
        # never a deletion made "there" that the helpdesk's change would put back (task push 3). One
        # conditional DELETE (SyncLinkQuerySet.delete), not Django's collect-then-delete-by-id.
        deleted, _ = SyncLink.objects.filter(pk=link.pk, changes=link.changes).delete()
        if deleted:
            return
        link.remote_id, link.version, link.local_hash, link.remote_hash = "", "", "", ""
        link.snapshot, link.marker, link.failures, link.next_attempt_at = {}, new_marker(), 0, None
        SyncLink.objects.filter(pk=link.pk).update(
            remote_id="",
            version="",
            local_hash="",
            remote_hash="",
            snapshot={},
            marker=link.marker,  # a fresh one: the deleted entry may still be listed under the old
            span_start=None,
            span_end=None,
            failures=0,
            next_attempt_at=None,
            last_synced_at=None,
        )
        self.report.changed_meanwhile += 1

    def _orphans_left(self, link: SyncLink, local: RemoteEvent) -> RemoteEvent | None:
        """The remote entry as last read (`_remote_before`) when it still holds occurrences changed
        on their own that its rule no longer gives and the helpdesk's series (`local`) does not keep
        (a pull's drop whose push failed: `_pull`), else None. Read from the link's `ORPHANED`
        without walking the rule; a link recorded before that was kept has it read and saved here,
        once (one UPDATE)."""
        if not (link.snapshot.get("remote") or {}).get("overrides"):
            return None
        orphaned = link.snapshot.get(ORPHANED)
        if orphaned is None:
            orphaned = _orphan_keys(self._remote_before(link))
            link.snapshot = {**link.snapshot, ORPHANED: orphaned}
            SyncLink.objects.filter(pk=link.pk).update(snapshot=link.snapshot)
        if not set(orphaned) - {mapping.moment_key(o.original_start) for o in local.overrides}:
            return None
        return self._remote_before(link)

    def _orphans_message(self, local: RemoteEvent, remote: RemoteEvent | None) -> str | None:
        """The log line's words when the external calendar still holds occurrences changed on their
        own that its own rule no longer gives (`mapping.orphaned_overrides`: a rule changed there
        that kept the moved occurrence's component) and the helpdesk no longer has them: they go
        from the calendar with the push this line is for (task push 2). None when there are none."""
        if remote is None:
            return None
        kept = {mapping.moment_key(o.original_start) for o in local.overrides}
        gone = [o for o in mapping.orphaned_overrides(remote) if mapping.moment_key(o.original_start) not in kept]
        if not gone:
            return None
        zone = ZoneInfo(str(self.agent.zone))
        when = ", ".join(
            when_text(o.original_start, zone) if isinstance(o.original_start, datetime) else day_text(o.original_start)
            for o in gone
        )
        which = "occurrence" if len(gone) == 1 else "occurrences"
        return (
            f"The series' rule changed in {self.agent.name}'s calendar no longer gives the {which} of {when}, "
            "moved on its own: gone from the helpdesk with it, and now from the calendar too."
        )

    def _changed_while_removed(self) -> str:
        return f"{self.agent.name} changed this on their calendar after the helpdesk removed it from there;"

    # --- pulled updates and deletions: written in batches ---

    def _quiet(self, link: SyncLink) -> bool:
        """Can a pulled change of this link be written in a batch, without `appointment_changed`?
        Yes when nobody else must hear of it: no appointment left, or an imported one on this
        technician's calendar alone while the technician has no other calendar (the e-mail
        receiver ignores imported entries, the sync receiver would find no other calendar to
        mark). A shared, helpdesk-made or occurrence's appointment goes the one-by-one way, which
        tells the others (`calendar_services.update_appointment` / `delete_appointment`)."""
        appointment = link.appointment
        if appointment is None:
            return True
        if appointment.source != Appointment.Source.EXTERNAL or appointment.is_occurrence:
            return False
        if [agent.pk for agent in mapping.agents_of(appointment)] != [self.agent.pk]:
            return False
        return not self._has_other_calendars()

    def _has_other_calendars(self) -> bool:
        """Does the technician have a calendar besides this one? (asked once a run)"""
        if self._other_calendars is None:
            self._other_calendars = AgentCalendar.objects.filter(agent_id=self.agent.pk).exclude(pk=self.ac.pk).exists()
        return self._other_calendars

    def _flush_pulls(self) -> None:
        """Write the queued pulled updates, then deletions, SYNC_PULL_BATCH at a time, each batch in
        one transaction with a fixed number of statements. An entry the batch does not take, or a
        batch that fails as a whole, goes the one-by-one way (`_pull_alone`): a bad entry fails
        alone, as a single pull's would."""
        size = max(1, int(_setting("SYNC_PULL_BATCH", 500)))
        queued, self.pulls = self.pulls, []
        for op, write in ((Op.PULL_UPDATE, self._update_batch), (Op.PULL_DELETE, self._delete_batch)):
            chosen = [pending for pending in queued if pending.decision.op == op]
            for start in range(0, len(chosen), size):
                chunk = chosen[start : start + size]
                try:
                    with transaction.atomic(), inbound.inbound(self.ac):
                        alone = write(chunk)
                except Exception:
                    logger.warning(
                        "A batch of %s pulled changes failed; applying them one by one", len(chunk), exc_info=True
                    )
                    alone = chunk
                for pending in alone:
                    self._pull_alone(pending)

    def _pull_alone(self, pending: _Pending) -> None:
        """One queued pulled change written on its own; a failure is this item's alone (`_process`)."""
        link, decision = pending.link, pending.decision
        try:
            if decision.op == Op.PULL_DELETE:
                self._pull_delete(link, decision)
            else:
                self._pull(link, decision, pending.event)
        except ProviderError as error:
            self._failed(link, decision, error)
        except Exception as error:  # a bad item must not stop the others
            logger.exception("Sync of %s failed", link)
            self._failed(link, decision, error)

    def _update_batch(self, chunk: list[_Pending]) -> list[_Pending]:
        """Write pulled updates of single appointments at once: their changed fields (one UPDATE a
        batch of rows), their links (the local side built from what was just written, nothing read
        back) and one log entry each. Returns the items the batch does not take (a series, an
        entry turning private, values the helpdesk refuses): the caller applies those alone. The
        links and appointments in `chunk` are left as read (copies are written), so a failed batch
        can go the one-by-one way."""
        rows, done, alone = [], [], []
        for pending in chunk:
            try:
                row, overwritten, before = self._updated_row(pending)
            except Exception:  # told, with its message, by the one-by-one way
                alone.append(pending)
                continue
            rows.append(row)
            done.append((pending, row[0], overwritten, before))
        inbound.write_updated_rows(rows)
        pulled = [self._pulled_link(pending.link, appointment, pending.event) for pending, appointment, *_ in done]
        links = [link for link, _written in pulled]
        written = list(dict.fromkeys(name for _link, names in pulled for name in names))
        bulk.update(links, written)
        bulk.insert(
            [
                self._pull_log_entry(
                    link,
                    pending.decision,
                    pending.event,
                    appointment,
                    overwritten,
                    said=self._update_words(pending.decision, before, pending.event),
                )
                for (pending, appointment, overwritten, before), link in zip(done, links, strict=True)
            ]
        )
        for (pending, appointment, *_), link in zip(done, links, strict=True):
            # Written: the run goes on with what was stored, field by field (no copy of Django's
            # own state), the appointment as just written included.
            _copy_fields(link, pending.link, written)
            pending.link.appointment = appointment
            if pending.link.pending:  # cleared only for the change this run read (`_clear_pending`)
                self._clear_pending(pending.link)
            self.report.pulled += 1
            self.report.conflicts += 1 if pending.decision.conflict else 0
        return alone

    def _updated_row(self, pending: _Pending) -> tuple[tuple[Appointment, set[str]], dict | None, RemoteEvent | None]:
        """The pulled update of one item as `inbound.updated_row` gives it, with what a conflict
        overwrote on the helpdesk's side (None: no conflict) and the entry it was read against
        (`_pull`'s `before`: the helpdesk's side in a conflict, else the remote as last synced;
        None when the link has none)."""
        link, event = pending.link, pending.event
        overwritten = None
        if pending.decision.conflict:
            # The external calendar won: every field where the helpdesk differs is overwritten.
            before = self._local_event(link)
            overwritten = mapping.lost_values(before, event) if before is not None else None
        else:
            before = self._pull_base(link, event)
        row = inbound.updated_row(
            link.appointment,
            self.agent,
            before,
            event,
            templated=link.origin == SyncLink.Origin.HELPDESK,
            settings=self.settings,
        )
        return row, overwritten, before

    def _pulled_link(self, link: SyncLink, appointment: Appointment, event: RemoteEvent) -> tuple[SyncLink, list[str]]:
        """A copy of the link as `_pull` leaves it after applying `event` to `appointment`, unsaved,
        and the fields (attnames) that `_pull` saves on it: the remote id and version, and what
        `_synced` records."""
        link = copy.copy(link)
        link.appointment = appointment
        link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
        link.snapshot = {**link.snapshot, "remote": mapping.to_data(event)}
        synced = self._synced(link, self._local_event(link), event, raw=event.raw, save=False)
        return link, ["remote_id", "version", *synced]

    def _pull_log_entry(
        self,
        link: SyncLink,
        decision: Decision,
        event: RemoteEvent,
        appointment: Appointment,
        overwritten,
        *,
        said: list[str],
        operation: str = "update",
    ) -> SyncLogEntry:
        """The log entry of a pulled change, unsaved: `_pull` saves it, `_update_batch` inserts many.
        `said`: its sentences (`_update_words` for an update), followed by the entry's own notes;
        routine (`SyncLogEntry.routine`) unless it is a conflict or the entry has notes."""
        return self._log_entry(
            In,
            operation,
            SyncLogEntry.Result.CONFLICT if decision.conflict else SyncLogEntry.Result.OK,
            subject=_import_subject(appointment, event),
            link=link,
            overwritten=overwritten,
            message=" ".join(part for part in [*said, *event.notes] if part),
            # A note on the entry (a cut text, an unknown zone) or a conflict is worth a look.
            routine=not decision.conflict and not event.notes,
        )

    def _update_words(self, decision: Decision, before: RemoteEvent | None, event: RemoteEvent) -> list[str]:
        """The log's sentences for a pulled update of an entry the helpdesk has, on the one-by-one
        way (`_pull`) and in a batch alike: a conflict the external calendar won says so (the
        overwritten values go in the entry's `overwritten`); otherwise what changed there since the
        last sync, `before` (the remote as last synced) against `event`, in the helpdesk's words
        (`conflicts.changes_message`: fields and occurrences, on the technician's wall clock).
        Empty when nothing a person sees changed, or nothing was synced before to compare with."""
        if decision.conflict:
            return ["Both sides changed; the external calendar's version won."]
        if before is None:
            return []
        where = f"{self.agent.name}'s calendar"
        words = self._changes_words(before, event, where=where)
        if before.reminder_minutes != event.reminder_minutes:
            # Outside the compared fields (`_pull_base` keeps an unchanged one): named here.
            words = f"{words[:-1]}; reminder." if words else f"Changed in {where}: reminder."
        return [words]

    def _changes_words(self, before: RemoteEvent, after: RemoteEvent, *, where: str = "the helpdesk") -> str:
        """`conflicts.changes_message` of one side's entry as last synced (`before`) and now
        (`after`), on the technician's wall clock; `where` names that side ("Alice's calendar" for
        a pulled update, the helpdesk for a pushed one). Empty when nothing a person sees changed."""
        return conflicts.changes_message(before, after, where=where, zone=str(self.agent.zone))

    def _delete_batch(self, chunk: list[_Pending]) -> list[_Pending]:
        """Write pulled deletions at once: the appointments (with their occurrences), the links and
        one log entry each, in a fixed number of statements. Every item is taken (`_quiet` chose
        them)."""
        links = [pending.link for pending in chunk]
        inbound.remove_many_for_remote_deletion([link.appointment for link in links if link.appointment is not None])
        entries = [
            self._log_entry(
                In,
                "delete",
                SyncLogEntry.Result.CONFLICT if pending.decision.conflict else SyncLogEntry.Result.OK,
                subject=_deleted_subject(pending.link),
                private=privacy.link_is_private(pending.link),
                message=self._deletion_won()
                if pending.decision.conflict
                else inbound.deletion_words(self.agent, others=False)
                if pending.link.appointment is not None
                else "",
                routine=not pending.decision.conflict,
            )
            for pending in chunk
        ]
        SyncLink.objects.filter(pk__in=[link.pk for link in links]).delete()
        bulk.insert(entries)
        self.report.pulled += len(links)
        self.report.conflicts += sum(1 for pending in chunk if pending.decision.conflict)
        return []

    # --- many writes in one request ---

    def _bulk_op(self, pending: _Pending) -> BulkOp:
        link, decision, local, event = pending.link, pending.decision, pending.local, pending.event
        version = (event.version if event is not None and event.version else link.version) or None
        if decision.op == Op.PUSH_DELETE:
            return BulkOp("delete", ref=RemoteRef(link.remote_id, version))
        if decision.op == Op.PUSH_CREATE or not link.remote_id:
            return BulkOp("create", event=_to_create(link, local))
        base = event if event is not None else self._remote_before(link)
        sent = _keeping_their_length(link, _keeping_their_reminder(link, local, base), base)
        return BulkOp("update", event=sent, ref=RemoteRef(link.remote_id, version), base=base)

    def _flush_bulk(self) -> None:
        """Send the queued pushes `max_batch` at a time through the provider's apply_bulk; each
        item's result is handled as a single call's would be: a failure is that item's alone, and a
        write refused for a stale version reads the entry again and decides once more (its new push
        goes out in the next round)."""
        size = max(1, int(getattr(self.provider, "max_batch", 1)))
        while self.bulk:
            queued, self.bulk = self.bulk, []
            for start in range(0, len(queued), size):
                chunk = queued[start : start + size]
                if self.report.rights_problem is not None:
                    break  # the calendar takes no writes now: they stay pending (`_waits`)
                ops = [self._bulk_op(pending) for pending in chunk]
                try:
                    results = _call(lambda ops=ops: self.provider.apply_bulk(self.calendar, ops))
                except ProviderError as error:
                    for pending in chunk:
                        self._failed(pending.link, pending.decision, error)
                    continue
                for pending, op, result in zip(chunk, ops, results, strict=True):
                    self._bulk_result(pending, op, result)

    def _bulk_result(self, pending: _Pending, op: BulkOp, result) -> None:
        link, decision = pending.link, pending.decision
        try:
            self._bulk_done(pending, op, result)
        except (VersionConflict, RemoteNotFound) as error:
            self._refused(link, decision, error, reread=pending.reread)
        except ProviderError as error:
            self._failed(link, decision, error)
        except Exception as error:  # a bad item must not stop the others
            logger.exception("Sync of %s failed", link)
            self._failed(link, decision, error)

    def _bulk_done(self, pending: _Pending, op: BulkOp, result) -> None:
        link, decision, local, event = pending.link, pending.decision, pending.local, pending.event
        error = result.error
        if op.kind == "delete":
            if error is not None and not isinstance(error, RemoteNotFound):
                raise error
            self._deleted(link, decision, event)
            return
        created = op.kind == "create"
        ref = result.ref
        if error is not None:
            raise error  # an update of a gone entry is decided again (`_refused`)
        operation = "create" if op.kind == "create" else "update"
        self._pushed(link, decision, local, event, ref, operation, created, message=pending.message)

    def _keep_version(self, link: SyncLink, event: RemoteEvent | None) -> None:
        """Nothing the helpdesk compares changed, but the entry may have a new version tag, id or
        raw form (a dismissed reminder, a re-serialised object) or reminder: keep them, or the next
        push would be refused as stale."""
        if event is None or not link.pk:
            return
        remote_id, version = event.remote_id or link.remote_id, event.version or link.version
        raw = event.raw if event.raw is not None else link.snapshot.get("remote_raw")
        if (remote_id, version, raw) == (link.remote_id, link.version, link.snapshot.get("remote_raw")):
            return
        link.remote_id, link.version = remote_id, version
        link.snapshot = {**link.snapshot, "remote_raw": raw}
        remote = link.snapshot.get("remote")
        kept = remote.get("reminder_kept", False) if remote else False
        if (
            remote
            and "reminder_minutes" in remote
            and (remote["reminder_minutes"], kept) != (event.reminder_minutes, event.reminder_kept)
        ):
            # A reminder changed there (no compared change): the entry as last read holds it, so the
            # next push keeps it (`_keeping_their_reminder`) instead of writing ours back over it;
            # an alarm of the person's own (`reminder_kept`) as that, so its removal is seen later.
            remote = {key: value for key, value in remote.items() if key != "reminder_kept"}
            kept_mark = {"reminder_kept": True} if event.reminder_kept else {}
            link.snapshot["remote"] = {**remote, "reminder_minutes": event.reminder_minutes, **kept_mark}
        SyncLink.objects.filter(pk=link.pk).update(remote_id=remote_id, version=version, snapshot=link.snapshot)

    def _keep_base(self, link: SyncLink, local: RemoteEvent | None, event: RemoteEvent | None) -> None:
        """A link without its last synced state (made before it was kept, or whose sealed snapshot
        could not be opened: `fields.unseal`) whose sides did not change since the last sync: the
        sides as they are now are that state, stored now, so a later change on both sides merges
        field by field (`_three_way`) instead of one side taking it all. The helpdesk's side is
        stored when its hash is the synced one; the external calendar's only from an entry read in
        this run (its text is what a private entry's helpdesk side is built from)."""
        if not link.pk or local is None or (link.snapshot.get("local") and link.snapshot.get("remote")):
            return
        kept = dict(link.snapshot)
        if not kept.get("local") and link.local_hash and mapping.content_hash(local) == link.local_hash:
            kept["local"] = mapping.to_data(local)
        if not kept.get("remote") and event is not None and mapping.content_hash(event) == link.remote_hash:
            kept["remote"], kept["remote_raw"] = mapping.to_data(event), event.raw
        if kept != link.snapshot:
            link.snapshot = kept
            SyncLink.objects.filter(pk=link.pk).update(snapshot=kept)
            logger.info("Stored the missing last synced state of %s", link)

    def _push(
        self,
        link: SyncLink,
        decision: Decision,
        local: RemoteEvent,
        event: RemoteEvent | None,
        *,
        message: str | None = None,
        result: str | None = None,
    ) -> None:
        """Write the helpdesk's side of a link to the remote (create, or update merged on the
        entry as last read). `message` / `result`: the log entry's own, instead of the conflict's."""
        created = False
        if decision.op == Op.PUSH_CREATE or not link.remote_id:
            sent = _to_create(link, local)
            ref = _call(lambda: self.provider.create(self.calendar, sent))
            operation, created = "create", True
        else:
            # The entry as last read is the base of a merge: only what the helpdesk owns and changed
            # is written. When the planner saw the server's entry, its version is the one our change
            # replaces: a newer one (changed again meanwhile) is a conflict for the next pull to decide.
            base = event if event is not None else self._remote_before(link)
            version = (event.version if event is not None and event.version else link.version) or None
            # Gone (RemoteNotFound) is decided again by the caller (`_refused`): the technician
            # deleted it, and the conflict rule says whether it comes back.
            sent = _keeping_their_length(link, _keeping_their_reminder(link, local, base), base)
            ref = _call(
                lambda: self.provider.update(self.calendar, RemoteRef(link.remote_id, version), sent, base=base)
            )
            operation = "update"
        self._pushed(link, decision, local, event, ref, operation, created, message=message, result=result)

    def _pushed(
        self,
        link: SyncLink,
        decision: Decision,
        local: RemoteEvent,
        event: RemoteEvent | None,
        ref: RemoteRef,
        operation: str,
        created: bool,
        *,
        message: str | None = None,
        result: str | None = None,
    ) -> None:
        """Record a push the remote accepted: the link's new id, version and synced state, and the
        log (`message` / `result`: its own, instead of the conflict's; an update's line names what
        changed in the helpdesk since the last sync, as a pulled update's names what changed there)."""
        # The helpdesk's side as last synced, read before `_synced` records the new one.
        synced_local = link.snapshot.get("local") if operation == "update" else None
        moved = link.snapshot.get(RECREATE_AFTER_MOVE) if created else None
        link.remote_id, link.version = ref.remote_id, ref.version or ""
        overwritten = None
        if decision.conflict and event is not None:
            overwritten = mapping.lost_values(event, local, only=decision.fields, items=decision.items)
        # The remote side as written: an end and a reminder the helpdesk did not change are the
        # entry's own (so recorded, or the next read would take them for new changes there).
        base = (event if event is not None else self._remote_before(link)) if operation == "update" else None
        written = _keeping_their_length(link, _keeping_their_reminder(link, local, base), base)
        self._synced(link, local, written, raw=ref.raw)
        if created:
            link.snapshot["created_after_token"] = True
            SyncLink.objects.filter(pk=link.pk).update(snapshot=link.snapshot)
        self._recreated(link, moved, local.subject)
        self.report.pushed += 1
        if decision.conflict:
            self.report.conflicts += 1
        if result is None:
            result = SyncLogEntry.Result.CONFLICT if decision.conflict else SyncLogEntry.Result.OK
        if overwritten:
            self._tell_request(link, self._overwritten_text(link, overwritten, side=conflicts.EXTERNAL))
        put_back = decision.conflict and decision.op == Op.PUSH_CREATE and event is None
        if put_back:
            message = f"{self.agent.name} removed this from their calendar; the helpdesk's change put it back."
            self._tell_request(link, message)
        if message is None and decision.conflict:
            message = "Both sides changed; the helpdesk's version won."
        elif message is None:
            message = self._changes_words(mapping.from_data(synced_local), local) if synced_local else ""
            if synced_local and synced_local.get("reminder_minutes", local.reminder_minutes) != local.reminder_minutes:
                # The reminder is outside the compared fields: named here, or the line would say nothing.
                message = f"{message[:-1]}; reminder." if message else "Changed in the helpdesk: reminder."
        self._log(Out, operation, result, subject=local.subject, link=link, overwritten=overwritten, message=message)

    def _pull(self, link: SyncLink, decision: Decision, event: RemoteEvent) -> None:
        """Bring the helpdesk in step with a remote entry: imported (a new one, or one the helpdesk
        removed while the technician changed it and the external calendar wins: planner rule 7),
        or updated. A conflict is logged and counted, and the request's history says what the
        helpdesk lost (SPEC S3.8)."""
        with transaction.atomic(), inbound.inbound(self.ac):
            overwritten, before = None, None
            templated = link.origin == SyncLink.Origin.HELPDESK
            # A request lives on without its appointment: its history hears why the entry came back.
            removed_here, deleted_request = link.appointment is None, link.snapshot.get(DELETED_REQUEST)
            if link.appointment is None:
                appointment = inbound.import_remote_event(self.agent, event)
                link.appointment = appointment
                operation = "create"
                if event.is_recurring:
                    self.budget -= appointment.occurrences.count()
            else:
                if decision.conflict:
                    # The external calendar won: every field where the helpdesk differs is overwritten.
                    before = self._local_event(link)
                    overwritten = mapping.lost_values(before, event) if before is not None else None
                else:
                    before = self._pull_base(link, event)
                inbound.apply_remote_update(
                    link.appointment, self.agent, before, event, templated=templated, settings=self.settings
                )
                operation = "update"
            link.appointment.refresh_from_db()
            mapping.forget_related(link.appointment)  # read before the change
            link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
            # What the helpdesk now holds is read against the entry just pulled (a private entry's
            # text comes from it), so the next sync sees both sides as synced and writes nothing.
            link.snapshot = {**link.snapshot, "remote": mapping.to_data(event)}
            local = self._local_event(link)
            self._synced(link, local, event, raw=event.raw)
            self.report.pulled += 1
            if decision.conflict:
                self.report.conflicts += 1
            if decision.conflict and removed_here:
                said = [
                    f"{self._changed_while_removed()} the change won (the external calendar wins conflicts): "
                    f"back in the helpdesk as an entry of {self.agent.name}'s own."
                ]
                if deleted_request is not None:
                    inbound.record_on_request(deleted_request, self.agent, said[0], now=self.now)
            else:
                # What changed there, named as every other line names it (trial fault 7), in the
                # same words as a batched pull's (`_update_batch`).
                said = self._update_words(decision, before, event)
                if decision.conflict and overwritten:
                    self._tell_request(link, self._overwritten_text(link, overwritten, side=conflicts.HELPDESK))
            self._pull_log_entry(
                link, decision, event, link.appointment, overwritten, said=said, operation=operation
            ).save()
        ours = link.origin == SyncLink.Origin.HELPDESK  # a technician's own entry is never tidied up
        orphaned = link.snapshot.get(ORPHANED)  # read by `_synced` from the entry just pulled
        local = self._local_event(link) if ours and operation == "update" and orphaned else None
        message = self._orphans_message(local, event) if local is not None else None
        # The series was renamed there in its master alone: its moved occurrences that held a copy of
        # the old text follow it here (inbound.follows_series_text), and in the entry too.
        copies = operation == "update" and not decision.conflict and inbound.copies_left_behind(before, event)
        if message is None and copies:
            local = self._local_event(link)
            message = "The series' new text written into its occurrences changed on their own."
        if message is not None:
            # The new rule dropped occurrences moved on their own: gone in the helpdesk with the pull,
            # their components go from the calendar now (the next run sends it again if this fails).
            self._push(link, Decision(Op.PUSH_UPDATE), local, event, message=message)

    def _pull_shared(self, link: SyncLink, decision: Decision, event: RemoteEvent) -> None:
        """A changed entry of an appointment shared by several technicians (`inbound.is_shared`):
        it speaks for this technician alone, as an attendee's copy does in Exchange and Google.
        An occurrence cancelled there is left by this technician only
        (`inbound.apply_attendee_update`); anything else changed there (moved, resized, renamed,
        a rule or an occurrence changed) is not applied to the others: the helpdesk's version is
        written back to this calendar, and the log names what was overwritten and why. A conflict
        (both sides changed) is decided the same way, whichever side the admins let win
        (planner: Op.ANSWER)."""
        count = len(mapping.agents_of(link.appointment))
        with transaction.atomic(), inbound.inbound(self.ac):
            before = self._remote_before(link)
            done = inbound.apply_attendee_update(link.appointment, self.agent, before, event)
            link.appointment.refresh_from_db()
            mapping.forget_related(link.appointment)
            link.remote_id, link.version = event.remote_id or link.remote_id, event.version or ""
            link.snapshot = {**link.snapshot, "remote": mapping.to_data(event)}
            local = self._local_event(link)
            self._synced(link, local, event, raw=event.raw)
            if done:
                self.report.pulled += 1
                self._log(
                    In, "update", subject=local.subject if local else event.subject, link=link, message=" ".join(done)
                )
        if local is None or mapping.content_hash(local) == mapping.content_hash(event):
            return
        # Written back at once: the entry is the helpdesk's, and only this technician's answer counts.
        message = inbound.SHARED_MESSAGE.format(count=count)
        self._push(link, Decision(Op.PUSH_UPDATE, conflict=True), local, event, message=message)

    def _synced(
        self,
        link: SyncLink,
        local: RemoteEvent | None,
        remote: RemoteEvent | None,
        *,
        raw: str | None = None,
        save: bool = True,
        remote_hash: str | None = None,
    ) -> list[str]:
        """Record both sides as synced on the link (saved unless `save` is False). `remote_hash`:
        `remote`'s content hash when the caller has it already. Returns the fields (attnames) it
        records: those of `_synced_fields`, and the approval (an approved push is done)."""
        fields = _synced_fields(local, remote, raw=raw, remote_hash=remote_hash)
        was_pending = link.pending
        for name, value in fields.items():
            setattr(link, name, value)
        # On the external calendar now: kept in step from here on, never asked about again.
        link.approval = SyncLink.Approval.NOT_NEEDED
        if save and link.pk is None:
            link.save()  # a new link: no helpdesk change can have marked it yet
        elif save:
            # Everything but `pending` (and the change count, which only a helpdesk change raises):
            # `pending` is cleared only for the change count this run read (`_clear_pending`).
            link.save(update_fields=_RECORDED_FIELDS)
            link.pending = was_pending
            if was_pending:
                self._clear_pending(link)
        return [name for name in (*fields, "approval") if name != "pending"]

    def _clear_pending(self, link: SyncLink) -> bool:
        """Clear the link's pending mark, unless a helpdesk change marked it again after this run
        read it (its `changes` count moved on: a compare-and-set, one UPDATE): then the mark stays,
        for the newer state, and the report asks for another push (`SyncReport.changed_meanwhile`).
        Returns whether the mark was cleared."""
        if SyncLink.objects.filter(pk=link.pk, changes=link.changes).update(pending=False):
            link.pending = False
            return True
        link.pending = True
        self.report.changed_meanwhile += 1
        return False

    def _failed(self, link: SyncLink, decision: Decision, error: Exception) -> None:
        """One item failed: logged with its reason, retried after the link's back-off. A refused
        entry is first read against the calendar's rights (`_judged`): when they are gone, the
        item does not fail (its change waits, pending) and the calendar is failing instead."""
        if isinstance(error, ProviderError):
            error = self._judged(error)
            if error is self.report.rights_problem:
                return
        reason = limits.describe(error)
        failures = link.failures + 1
        delay = min(3600, 30 * 2 ** min(failures, 7))
        if isinstance(error, TransientError) and error.retry_after:
            delay = error.retry_after  # the server's own wait, in full: neither cut short nor stretched
        extra = {}
        if decision.op == Op.PUSH_CREATE and not link.remote_id and not link.snapshot.get(UNCONFIRMED_CREATE):
            # The server may have made the entry before the error: if the appointment goes before a
            # create succeeds, the entry under our marker must be found and deleted, not forgotten.
            link.snapshot = {**link.snapshot, UNCONFIRMED_CREATE: True}
            extra["snapshot"] = link.snapshot
        sent = self._sent(link, decision) if not isinstance(error, EntryRefused) else None  # refused: not made
        if sent is not None:
            link.snapshot = {**link.snapshot, SENT_UNCONFIRMED: sent}
            extra["snapshot"] = link.snapshot
        if isinstance(error, EntryRefused) and error.write:
            link.snapshot = {**link.snapshot, REFUSED_WRITE: True}
            extra["snapshot"] = link.snapshot
        SyncLink.objects.filter(pk=link.pk).update(
            failures=failures, next_attempt_at=self.now + timedelta(seconds=delay), last_error=reason[:2000], **extra
        )
        self.report.failed += 1
        self.report.errors.append(reason)
        if isinstance(error, ConnectionProblem):
            self.report.connection_failures += 1
            self.report.connection_problem = error
        direction = Out if decision.op.startswith("push") else In
        entry = self._log_entry(
            direction, decision.op.split("_")[-1], SyncLogEntry.Result.ERROR, message=reason, link=link
        )
        # A retry that fails for the same reason counts on the line of the last one (task push 4, 5).
        self._log_refusal(entry, again=link.failures > 0)

    def _sent(self, link: SyncLink, decision: Decision) -> dict | None:
        """What a failed create or update sent, as `SENT_UNCONFIRMED` keeps it; None for any other
        write. Read from the appointment now: nothing changed it since the push in this run."""
        if decision.op not in (Op.PUSH_CREATE, Op.PUSH_UPDATE) or not link.pk:
            return None
        try:
            local = self._local_event(link)
        except Exception:  # the push failed on this same appointment: never let that hide its error
            logger.exception("Could not keep what was sent for %s", link)
            return None
        if local is None:
            return None
        return {"hash": mapping.content_hash(local), "local": mapping.to_data(local)}

    def _log(self, direction, operation, result=SyncLogEntry.Result.OK, **details) -> None:
        """Record one sync log entry now (details: subject, message, link, overwritten)."""
        self._log_entry(direction, operation, result, **details).save()

    def _log_entry(
        self,
        direction,
        operation,
        result=SyncLogEntry.Result.OK,
        *,
        subject="",
        message="",
        link=None,
        overwritten=None,
        private: bool | None = None,
        routine: bool = False,
    ) -> SyncLogEntry:
        """One sync log entry of this calendar, unsaved (saved alone by `_log`, or many at once).
        A private entry's text never reaches the log (calendars.privacy): "(private)" stands in.
        What a conflict overwrote is said in the message too, times on the technician's clock.
        `routine`: the message only says what changed or went there, nothing to look at
        (`SyncLogEntry.routine`)."""
        return SyncLogEntry(
            agent_calendar=self.ac,
            link=link if link is not None and link.pk else None,
            routine=routine,
            **_log_fields(
                direction,
                operation,
                result,
                subject,
                message,
                link,
                overwritten,
                private,
                zone=str(self.agent.time_zone),
            ),
        )


# What `_Run._synced` saves on a link it had read: every field but its id, the pending mark and
# the change count (`SyncLink.changes`: only a helpdesk change raises it, and `pending` is cleared
# by a compare-and-set on it).
_RECORDED_FIELDS = [
    field.name for field in SyncLink._meta.concrete_fields if field.name not in ("id", "pending", "changes")
]


def _orphan_keys(event: RemoteEvent) -> list[str]:
    """The original starts (`mapping.moment_key`) of `event`'s occurrences changed on their own
    that its rule no longer gives (`mapping.orphaned_overrides`; empty for a single entry)."""
    return [mapping.moment_key(o.original_start) for o in mapping.orphaned_overrides(event)]


def _held(link: SyncLink) -> bool:
    """Does this link's helpdesk side wait for the technician (policy Ask)? Only while nothing of it
    is on the external calendar: a copy that is there is kept in step (integrations.services.
    approval_after_change), so a link from before that rule, waiting or declined with a copy out
    there, is pushed rather than left stale."""
    return link.approval in (SyncLink.Approval.WAITING, SyncLink.Approval.DECLINED) and not link.is_synced


def _synced_sides(link: SyncLink) -> tuple[dict | None, dict | None]:
    """Both sides of a link as last synced (`mapping.to_data`'s shape), None for a side it does not
    hold. Where the sides agreed at the last sync (equal hashes: the same compared content), the
    one side kept stands for the other (`_Run._keep_base` stores only the helpdesk's side of an
    entry no listing showed)."""
    synced_local, synced_remote = link.snapshot.get("local") or None, link.snapshot.get("remote") or None
    if link.local_hash and link.local_hash == link.remote_hash:
        synced_local, synced_remote = synced_local or synced_remote, synced_remote or synced_local
    return synced_local, synced_remote


def _exceptions_on_one_series(
    merge: Merge, before: RemoteEvent, after: RemoteEvent, local: RemoteEvent, event: RemoteEvent
) -> tuple[RemoteEvent, RemoteEvent]:
    """A merged series' exceptions named on the series as it will stand, for `_Run._merge`'s pull:
    (the entry as last synced, the entry to apply). `before`: the entry as last synced; `after`:
    it with the fields taken from the external calendar; `local` / `event`: the helpdesk's and the
    external calendar's entries now.

    A series' pull writes its whole set of cancelled starts: the helpdesk's own (changed here, or
    as synced) stay unless the EXDATEs are taken from the external calendar, or a cancellation the
    helpdesk made would be undone. One side may have moved the series while the other cancelled or
    edited occurrences (`planner.merge_fields`, review 6): EXDATEs and overrides name instances by
    their start (RFC 5545 3.8.5.1, 3.8.4.4), so each side's are moved onto the series as it will
    stand (its start, clock and length: the external calendar's where taken from there, else the
    helpdesk's; `mapping.rekeyed_onto`, review 7 F2b and F7: an occurrence edited in its text only
    takes the moved series' times)."""
    taken = merge.from_remote
    target = dataclasses.replace(
        local,
        start=(event if "start" in taken else local).start,
        end=(event if "end" in taken else local).end,
        time_zone=(event if "start" in taken else local).time_zone,
        zone_block=(event if "start" in taken else local).zone_block,
    )
    exdates, _ = mapping.rekeyed_onto(
        event if "exdates" in taken else local,
        target,
        exdates=after.exdates if "exdates" in taken else local.exdates,
        overrides=[],
    )
    # Likewise the occurrences edited on their own: the helpdesk's (as they stand) unless taken from
    # the external calendar, or an edit the helpdesk made would be undone (review finding 2).
    _, overrides = mapping.rekeyed_onto(
        event if "overrides" in taken else local,
        target,
        exdates=[],
        overrides=after.overrides if "overrides" in taken else local.overrides,
    )
    after = dataclasses.replace(after, exdates=exdates, overrides=overrides)
    if "start" not in taken:
        # The helpdesk moved the series: the entry as last synced still names its exceptions on
        # the old start, and the appointment's (moved with it, `calendars.services._move_exceptions`)
        # are on the helpdesk's series.
        old_exdates, old_overrides = mapping.rekeyed_onto(before, local)
        before = dataclasses.replace(before, exdates=old_exdates, overrides=old_overrides)
    return before, after


def _merge_message(merge: Merge, *, side: str) -> str:
    """The log's words for a merge (`_Run._merge`), from `side`'s log entry (conflicts.EXTERNAL:
    the push's, HELPDESK: the pull's)."""
    if merge.first_sight:
        helpdesk_won = bool(merge.contested) and merge.contested <= merge.from_helpdesk
        return conflicts.first_sight_message(contested=set(merge.contested), helpdesk_won=helpdesk_won, side=side)
    return conflicts.merged_message(
        from_remote=set(merge.from_remote),
        from_helpdesk=set(merge.from_helpdesk),
        contested=set(merge.contested),
        side=side,
    )


def _synced_fields(
    local: RemoteEvent | None, remote: RemoteEvent | None, *, raw: str | None, remote_hash: str | None
) -> dict:
    """What `_Run._synced` records on a link, by attname: both sides' hashes and snapshot, the
    span (when a side is given), and no pending change, failure or error."""
    local_data = mapping.to_data(local) if local is not None else None
    remote_data = mapping.to_data(remote) if remote is not None else None
    remote_hash = remote_hash or (mapping.content_hash(remote) if remote is not None else "")
    if local is None:
        local_hash = ""
    elif remote_hash and local_data == remote_data:
        local_hash = remote_hash  # the hash reads only what to_data keeps: equal data, equal hash
    else:
        local_hash = mapping.content_hash(local)
    snapshot = {"local": local_data, "remote": remote_data, "remote_raw": raw}
    if remote is not None and remote.is_recurring and remote.overrides:
        snapshot[ORPHANED] = _orphan_keys(remote)  # read once here, not by every poll (`_orphans_left`)
    fields = {"local_hash": local_hash, "remote_hash": remote_hash, "snapshot": snapshot}
    span = remote or local
    if span is not None:
        fields["span_start"], fields["span_end"] = mapping.span_of(span)
    fields.update(pending=False, failures=0, next_attempt_at=None, last_error="", last_synced_at=timezone.now())
    return fields


def _log_fields(
    direction,
    operation: str,
    result,
    subject: str,
    message: str,
    link: SyncLink | None,
    overwritten: dict | None = None,
    private: bool | None = None,
    *,
    zone: str = "UTC",
) -> dict:
    """A sync log entry's own fields (all but its calendar and link) as `_Run._log_entry` stores
    them: texts cleaned and cut to their columns, a private entry's text masked. `private`: None
    reads it from `link`'s snapshot. `overwritten` (`mapping.lost_values`: what the losing side of
    a conflict had) is kept as JSON and said in the message ("Overwritten in the external
    calendar: subject '...'"), times on the wall clock of `zone` (IANA name)."""
    if private is None:
        private = link is not None and privacy.link_is_private(link)
    masked = privacy.masked_values(overwritten, private=private)
    side = conflicts.EXTERNAL if direction == Out else conflicts.HELPDESK
    said = conflicts.describe(masked, side=side, zone=zone, private=private)
    return {
        "direction": direction,
        "operation": operation,
        "result": result,
        "subject": limits.clean_text(privacy.rule.label(subject, private=private))[:255],
        "message": limits.clean_text(" ".join(part for part in (message, said) if part))[:2000],
        "overwritten": masked,
    }


@dataclass
class _Pending:
    """A push decided for one link, waiting to go out in a batch."""

    link: SyncLink
    decision: Decision
    local: RemoteEvent | None
    event: RemoteEvent | None
    reread: bool = True
    message: str | None = None  # the push's log entry's own words (a merge's)


def _copy_fields(source: SyncLink, target: SyncLink, names: list[str]) -> None:
    """Set the fields `names` (attnames) of `target` to `source`'s values: the fields a batch wrote
    for `source`, now held by the link the run goes on with."""
    for name in names:
        setattr(target, name, getattr(source, name))


def _clear_created_after_token(links: list[SyncLink]) -> None:
    """A listing has confirmed or asked for the links created after its token: their flag goes."""
    for link in links:
        if link.snapshot.get("created_after_token"):
            link.snapshot = {k: v for k, v in link.snapshot.items() if k != "created_after_token"}
            SyncLink.objects.filter(pk=link.pk).update(snapshot=link.snapshot)


def _empty_listing_message(answers: dict[str, int]) -> str:
    """The log's words for a full listing that came back empty while the calendar had linked
    entries: how many were asked about one by one, and what the server answered for each
    (`answers`: counts of "gone", "there", "unanswered")."""
    asked = sum(answers.values())
    entries = "entry" if asked == 1 else "entries"
    said = [
        f"{answers['gone']} gone (deleted here too)" if answers["gone"] else "",
        f"{answers['there']} still there (kept)" if answers["there"] else "",
        f"{answers['unanswered']} not answered (kept)" if answers["unanswered"] else "",
    ]
    return (
        f"The calendar came back empty, though {asked} linked {entries} should be in it; each was asked "
        f"about on its own before anything was deleted: {', '.join(part for part in said if part)}."
    )


def _deleted_subject(link: SyncLink) -> str:
    """The subject a deletion's log entry names: the remote entry's as last synced."""
    return link.snapshot.get("remote", {}).get("subject", "")


def _import_subject(appointment: Appointment, event: RemoteEvent) -> str:
    return appointment.subject or ("(private)" if event.private else "")


def _maybe_series(link: SyncLink) -> bool:
    """Is the entry this link holds a recurring series, or may it be? What was last read from the
    server says (a rule or extra dates); with nothing read yet, the appointment (a series master),
    and a link whose appointment is gone counts as a possible series."""
    remote = link.snapshot.get("remote")
    if remote is not None:
        return bool(remote.get("rrules") or remote.get("rdates"))
    return link.appointment is None or link.appointment.is_recurring_master


def _with_local_side(links) -> list[SyncLink]:
    """Links with what building their local side reads (`mapping.local_event`): the appointment,
    its technicians, schedule, request and occurrences edited on their own, in a fixed number of
    queries however many links there are."""
    modified = Appointment.objects.filter(is_modified=True).select_related("request")
    links = list(
        links.select_related("appointment__schedule", "appointment__request").prefetch_related(
            Prefetch("appointment__occurrences", queryset=modified, to_attr="modified_occurrences")
        )
    )
    appointments = [link.appointment for link in links if link.appointment is not None]
    mapping.remember_agents(appointments + [o for a in appointments for o in a.modified_occurrences])
    return links


def mapping_overlaps(event: RemoteEvent, window: Window) -> bool:
    start, end = mapping.span_of(event)
    return start < window.end and (end is None or end > window.start)
