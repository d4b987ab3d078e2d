"""Rules around sync that a person triggers: connections, approvals, and marking local changes.

Outbound: `note_appointment_change` (connected to calendars' `appointment_changed`) marks the
sync links of the technicians concerned and queues one push per agent calendar on commit.
Remote changes reach appointments through `integrations.sync.inbound`, which the engine calls;
the engine never imports this module, so the one lazy import of the tasks below closes no circle.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from calendars.models import Appointment, CalendarSettings, SyncPolicy
from calendars.selectors import effective_sync_policy
from calendars.signals import Change
from integrations.models import (
    DELETED_REQUEST,
    AgentCalendar,
    Connection,
    SyncLink,
    SyncLogEntry,
    remote_calendar_key,
)
from integrations.providers.base import ConnectionProblem, ProviderError, RemoteCalendar
from integrations.sync.inbound import inbound_calendar_id

logger = logging.getLogger(__name__)

# --- outbound: mark links, queue pushes ------------------------------------------------------------


def _queue_pushes(agent_calendar_ids: set[int]) -> None:
    """Queue one push per agent calendar (after commit). A broker that refuses the task fails
    nothing and loses nothing: the links stay marked, and the next periodic pull pushes them."""
    from integrations.tasks import push_agent_calendar  # tasks -> engine; imported late, used on commit

    for pk in sorted(agent_calendar_ids):
        try:
            push_agent_calendar.delay(pk)
        except Exception:
            logger.warning("Could not queue the push of agent calendar %s; the next pull pushes it", pk, exc_info=True)


def queue_pending_pushes() -> int:
    """Queue one push of every calendar whose links hold helpdesk changes not yet sent: run when a
    worker starts (helpdesk/celery.py), so changes whose push a killed worker took down with it
    (its unacknowledged message waits out the broker's visibility timeout) go out as soon as a
    worker is back, not at the next poll (trial L-KILL). Returns how many were queued."""
    from integrations import selectors

    ids = selectors.calendars_with_pending_pushes()
    _queue_pushes(ids)
    return len(ids)


def queue_push_again(agent_calendar_id: int) -> None:
    """Queue one more push of this agent calendar now, for a run that met helpdesk changes made
    while it pushed (`SyncReport.changed_meanwhile`): they stay marked, and go out at once instead
    of at the next poll. A broker that refuses it loses nothing (the links stay marked)."""
    _queue_pushes({agent_calendar_id})


class _PushesOfOneCommit:
    """The calendars one transaction's callbacks have queued pushes for, so each is pushed once
    however many changes announced it. Holds nothing waiting: ids live only in the callbacks that
    Django keeps, which it drops with a rolled-back savepoint or transaction."""

    def __init__(self) -> None:
        self.sent: set[int] = set()
        self.ran = False


def _push_on_commit(agent_calendar_ids: set[int]) -> None:
    """Queue one push of each of these agent calendars when the transaction commits: however
    many changes a transaction announces (a series' rule change removes an occurrence per
    week), each calendar gets one push task. Each call registers its own callback with its own
    ids, so a change rolled back (its savepoint or the whole transaction) queues nothing, now or
    with the next commit (Django's "Performing actions after commit": callbacks of a rolled-back
    block are discarded); the callbacks of one commit share the ids already queued."""
    connection = transaction.get_connection()
    batch = connection.__dict__.get("helpdesk_pushes")
    if batch is None or batch.ran:  # the last batch committed: this is a new transaction
        batch = connection.__dict__["helpdesk_pushes"] = _PushesOfOneCommit()
    ids = set(agent_calendar_ids)

    def queue() -> None:
        batch.ran = True
        new = ids - batch.sent
        batch.sent |= new
        if new:
            _queue_pushes(new)

    transaction.on_commit(queue, robust=True)


def note_appointment_change(
    *,
    appointment: Appointment,
    change: str,
    agent_ids_before: frozenset,
    follows: bool = False,
    split_from: int | None = None,
    **_,
) -> None:
    """Receiver of `appointment_changed`: per the effective policy of each technician concerned,
    mark the appointment's sync link for a push (Always), or waiting for approval (Ask); Never
    makes no link. A series syncs as one entry, so an occurrence's change marks its master; an
    occurrence given on its own to a technician who is not on the series (the group calendar's
    drag, a technician added to one occurrence) is that technician's own one-off entry, linked to
    the occurrence itself (`_mark_occurrence_links`, trial fault 2).
    The calendar a pulled change comes from is left out (it holds the change already), unless
    the change only `follows` from that one (calendars.signals): then it needs the push too.
    A paused calendar's links are marked too (they count as pending) but no push is queued for
    it: resuming it (`set_paused`) sends them."""
    target = appointment.master if appointment.master_id else appointment
    target_deleted = change == Change.DELETED and target.pk == appointment.pk
    agent_ids_now = set() if target_deleted else set(target.agents.values_list("id", flat=True))
    origin = None if follows else inbound_calendar_id()
    settings = CalendarSettings.load()
    touched = _mark_links(
        target,
        agent_ids_now | set(agent_ids_before),
        now=agent_ids_now,
        before=agent_ids_before,
        deleted=target_deleted,
        origin=origin,
        settings=settings,
    )
    if appointment.master_id:
        touched |= _mark_occurrence_links(
            appointment, change, agent_ids_before, series_agent_ids=agent_ids_now, origin=origin, settings=settings
        )
    elif target.is_recurring_master and not target_deleted:
        touched |= _mark_own_entries_of_occurrences(target, origin=origin)
    if split_from is not None:
        _start_from_the_old_entries(target, split_from)
    if touched:
        _push_on_commit(touched)


def _start_from_the_old_entries(new: Appointment, old_id: int) -> None:
    """The links of `new`, a series split off the series `old_id` ("this and following"), not created
    yet: each keeps the entry of the old series on the same calendar as last read
    (`snapshot["template_raw"]`), which its create starts from (`RemoteEvent.raw`), so what the
    helpdesk does not model (X- properties, categories, the organiser's VTIMEZONE) stays on both
    halves, as Outlook and Google keep it when they split a series. Every connector reads it
    (caldav.from_template, google.insert_body, graph.create_body, exchange.item_values: categories)."""
    old = {link.agent_calendar_id: link for link in SyncLink.objects.filter(appointment_id=old_id)}
    for link in SyncLink.objects.filter(appointment=new, remote_id=""):
        before = old.get(link.agent_calendar_id)
        raw = before.snapshot.get("remote_raw") if before is not None else None
        if raw and link.snapshot.get("template_raw") != raw:
            link.snapshot = {**link.snapshot, "template_raw": raw}
            SyncLink.objects.filter(pk=link.pk).update(snapshot=link.snapshot)


def _mark_links(
    target: Appointment,
    concerned: set[int],
    *,
    now: set[int],
    before: frozenset | set[int],
    deleted: bool,
    origin: int | None,
    settings: CalendarSettings,
) -> set[int]:
    """Mark the links of `target` on the calendars of the technicians `concerned` (agent ids): a
    technician in `now` has it on their calendar (a link is made unless their policy is Never),
    one not in it has it removed from there. `before`: who had it before the change (one added
    now is asked again under Ask); `deleted`: `target` itself goes. The calendar `origin` (the
    pulled change's) is left out. Returns the ids of the agent calendars to push (not paused)."""
    if not concerned:
        return set()
    calendars = AgentCalendar.objects.filter(agent_id__in=concerned, connection__is_active=True).select_related("agent")
    touched: set[int] = set()
    for agent_calendar in calendars:
        if agent_calendar.pk == origin:
            continue
        on_calendar = agent_calendar.agent_id in now
        policy = effective_sync_policy(agent_calendar.agent, settings)
        link = SyncLink.objects.filter(agent_calendar=agent_calendar, appointment=target).first()
        if link is None:
            if not on_calendar or policy == SyncPolicy.NEVER:
                continue
            link = SyncLink(agent_calendar=agent_calendar, appointment=target)
        elif policy == SyncPolicy.NEVER and on_calendar:
            continue
        link.pending = True
        if deleted and target.request_id is not None:
            # The link loses its appointment: a conflict the deletion meets is still told on the request.
            link.snapshot = {**link.snapshot, DELETED_REQUEST: target.request_id}
        added = on_calendar and agent_calendar.agent_id not in before
        link.approval = approval_after_change(link, on_calendar=on_calendar, policy=policy, added=added)
        if link.approval == SyncLink.Approval.DECLINED:
            link.pending = False  # nothing waits: the technician said no to this appointment
        link.failures = 0
        link.next_attempt_at = None
        _save_marked(link)
        if agent_calendar.state != AgentCalendar.State.PAUSED:
            touched.add(agent_calendar.pk)
    return touched


def _mark_occurrence_links(
    occurrence: Appointment,
    change: str,
    agent_ids_before: frozenset,
    *,
    series_agent_ids: set[int],
    origin: int | None,
    settings: CalendarSettings,
) -> set[int]:
    """An occurrence changed: the technicians on it who are not on its series (`series_agent_ids`)
    get it as a one-off entry of their own, linked to the occurrence (the series' entry on their
    calendar cannot hold it: they have none, RFC 5545 has no per-attendee occurrence); those who
    had such an entry and no longer have the occurrence (given back, cancelled, deleted, or now on
    the series, whose entry holds it) have it removed. The series' own technicians are marked on
    the master (`note_appointment_change`). Returns the agent calendars to push."""
    gone = change == Change.DELETED or occurrence.is_cancelled
    now = set() if gone else set(occurrence.agents.values_list("id", flat=True)) - series_agent_ids
    linked = set(SyncLink.objects.filter(appointment=occurrence).values_list("agent_calendar__agent_id", flat=True))
    before = set(agent_ids_before) - series_agent_ids
    return _mark_links(
        occurrence,
        now | before | linked,
        now=now,
        before=before,
        deleted=change == Change.DELETED,
        origin=origin,
        settings=settings,
    )


def _mark_own_entries_of_occurrences(master: Appointment, *, origin: int | None) -> set[int]:
    """A series changed as a whole: the one-off entries of its occurrences held by technicians who
    are not on the series (`_mark_occurrence_links`) are pushed again too (moved with the series,
    or removed once their technician is on the series, whose entry holds the occurrence). Two
    queries. Returns the agent calendars to push."""
    links = SyncLink.objects.filter(appointment__master=master, agent_calendar__connection__is_active=True)
    if origin is not None:
        links = links.exclude(agent_calendar_id=origin)
    calendars = dict(links.values_list("agent_calendar_id", "agent_calendar__state"))
    if not calendars:
        return set()
    # Raised in the database, as `_save_marked` does: a run working on them clears only older marks.
    links.update(pending=True, changes=F("changes") + 1, failures=0, next_attempt_at=None)
    return {pk for pk, state in calendars.items() if state != AgentCalendar.State.PAUSED}


# What marking a link for a push writes (besides the change count): a run working on the link
# meanwhile keeps its own fields (hashes, version, snapshot of what it synced), and this mark keeps
# the link pending however the run ends (`changes`).
_MARK_FIELDS = ["pending", "snapshot", "approval", "failures", "next_attempt_at"]


def _save_marked(link: SyncLink, fields: list[str] = _MARK_FIELDS) -> None:
    """Save a link just marked (or unmarked) by a helpdesk change and count the change (`SyncLink.
    changes`, raised in the database): a sync run that read the link before clears `pending` only
    for the count it read, so this change is not lost when that run records its push (trial fault 1).
    An existing link saves only `fields`, so nothing the run records is overwritten with what was
    read before it."""
    if link.pk is None:
        link.changes = 1
        link.save()
        return
    link.changes = F("changes") + 1
    link.save(update_fields=[*fields, "changes"])
    del link.changes  # deferred: read again from the database only if asked for


def approval_after_change(link: SyncLink, *, on_calendar: bool, policy: str, added: bool = False) -> str:
    """The approval a sync link gets when its appointment changed (a `SyncLink.Approval` value).

    Policy Ask (S3.3) gates *whether* an appointment goes onto the technician's external calendar,
    once per appointment, as accepting a meeting does in Outlook or an appointment in HaloPSA: a
    copy that is there is kept in step, never left stale.
    - Taken off this technician (deleted, reassigned away): no approval; the removal of a copy
      always flows, and a link with no copy is simply dropped.
    - Already on the external calendar (approved before, pushed under Always, or imported from it):
      the change (move, resize, rename, an occurrence cancelled) is pushed at once, without asking
      again. The technician hears of it as of any change (S3.11's e-mail), not through a new
      question whose "Decline" could only leave the old time on the phone.
    - Approved but not pushed yet: stays approved; the push sends the appointment as it is now.
    - Declined: stays declined whatever else changes (asked once per appointment, README), so the
      coordinator keeps seeing the technician's no; only the technician put on it again (`added`:
      not on it before this change) is asked again.
    - Otherwise under Ask (new, or waiting): waits for the technician; declining leaves nothing on
      the external calendar.
    """
    if not on_calendar:
        return SyncLink.Approval.NOT_NEEDED
    if policy != SyncPolicy.ASK or link.is_synced:
        return SyncLink.Approval.NOT_NEEDED
    if link.approval == SyncLink.Approval.APPROVED:
        return SyncLink.Approval.APPROVED
    if link.approval == SyncLink.Approval.DECLINED and not added:
        return SyncLink.Approval.DECLINED
    return SyncLink.Approval.WAITING


def _who(by) -> str:
    """The name the sync log gives the person who acted (`by`: a user, or None: an admin)."""
    return getattr(by, "username", "") or "an admin"


_STATE_LOG = {
    AgentCalendar.State.PAUSED: ("pause", "Sync paused by {who}: the helpdesk's changes wait, counted as pending."),
    AgentCalendar.State.ACTIVE: ("resume", "Sync resumed by {who}."),
    AgentCalendar.State.FAILING: ("state", "Marked failing by {who}."),
}


@transaction.atomic
def _change_state(agent_calendars, *, state: str, by, only_from: str | None = None) -> int:
    """`set_state`, limited to the calendars now in `only_from` when given: one read (locked),
    one write, one insert into the sync log, however many calendars."""
    if isinstance(agent_calendars, QuerySet):
        pks = agent_calendars.values("pk")  # a subquery: the rows are read once, below
    else:
        pks = [calendar.pk for calendar in agent_calendars]
    rows = AgentCalendar.objects.select_for_update().filter(pk__in=pks).exclude(state=state)
    if only_from is not None:
        rows = rows.filter(state=only_from)
    changing = {pk: (was, agent_id) for pk, was, agent_id in rows.values_list("pk", "state", "agent_id")}
    if not changing:
        return 0
    AgentCalendar.objects.filter(pk__in=changing).update(state=state)
    operation, message = _STATE_LOG[state]
    message = message.format(who=_who(by))
    SyncLogEntry.objects.bulk_create(
        SyncLogEntry(
            agent_calendar_id=pk,
            agent_id=agent_id,
            direction=SyncLogEntry.Direction.OUTBOUND,
            operation=operation,
            message=message,
        )
        for pk, (_, agent_id) in changing.items()
    )
    resumed = {pk for pk, (was, _) in changing.items() if was == AgentCalendar.State.PAUSED}
    if resumed:
        _push_on_commit(resumed)
    return len(changing)


def set_state(agent_calendars, *, state: str, by=None) -> int:
    """Set the sync state (`AgentCalendar.State`) of these agent calendars: the one way a state
    is changed by hand (admin's actions and change form). A paused calendar is neither pulled nor
    pushed, but the helpdesk's changes meanwhile are kept marked on its links (the pending count
    shows them); a calendar leaving Paused gets one push of what waited, queued on commit (S3.2:
    no waiting for the next pull). Each calendar that changes gets a sync log entry saying who
    changed it (`by`: the user; None is logged as "an admin").

    `agent_calendars`: a queryset or list of AgentCalendar. Returns how many calendars changed
    state."""
    return _change_state(agent_calendars, state=state, by=by)


def set_paused(agent_calendars, *, paused: bool, by=None) -> int:
    """Pause the sync of these agent calendars, or resume those paused (Active again, one push
    of what waited queued on commit; a failing one stays failing). Logged with `by` as
    `set_state`. Returns how many calendars changed state."""
    if paused:
        return _change_state(agent_calendars, state=AgentCalendar.State.PAUSED, by=by)
    return _change_state(agent_calendars, state=AgentCalendar.State.ACTIVE, by=by, only_from=AgentCalendar.State.PAUSED)


@transaction.atomic
def approve(link: SyncLink, *, by=None) -> SyncLink:
    """The technician lets this appointment reach the external calendar."""
    link.approval = SyncLink.Approval.APPROVED
    link.pending = True
    _save_marked(link, ["approval", "pending"])
    pk = link.agent_calendar_id
    _push_on_commit({pk})
    return link


@transaction.atomic
def decline(link: SyncLink, *, by=None) -> SyncLink:
    """The technician keeps this appointment (this version of it) out of the external calendar.
    Only asked while nothing of it is there (`approval_after_change`), so declining leaves nothing
    on the phone; it stays declined across later changes, until the technician is put on the
    appointment again (`approval_after_change`)."""
    link.approval = SyncLink.Approval.DECLINED
    link.pending = False
    link.save(update_fields=["approval", "pending"])
    return link


@transaction.atomic
def push_choice(appointment: Appointment, *, push: bool, agent: Agent | None = None, by=None) -> int:
    """The manual appointment form's answer for technicians whose policy is Ask: push now
    (approve) or keep it in the helpdesk (decline), without a trip to the "to approve" page.

    Call it after saving the appointment, in the same request. `agent` limits the choice to one
    technician. Returns the number of links decided.
    """
    target = appointment.master if appointment.master_id else appointment
    links = SyncLink.objects.filter(appointment=target, approval=SyncLink.Approval.WAITING)
    if agent is not None:
        links = links.filter(agent_calendar__agent=agent)
    count = 0
    for link in links:
        (approve if push else decline)(link, by=by)
        count += 1
    return count


def answer_push_choice(appointments, push: bool | None, *, agent: Agent | None, by=None) -> int:
    """Apply a form's "send it now / keep it here" answer of one technician to new appointments;
    no answer (None) leaves them waiting for approval."""
    if push is None or agent is None:
        return 0
    return sum(push_choice(appointment, push=push, agent=agent, by=by) for appointment in appointments)


# --- onboarding -----------------------------------------------------------------------------------------


def provider_for(connection: Connection, **overrides):
    from integrations.providers import registry

    return registry.build(connection, **overrides)


@transaction.atomic
def add_connection(
    *, name: str, kind: str, url: str, username: str = "", secret: str = "", options: dict | None = None
) -> Connection:
    if kind not in Connection.Kind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; use one of: {', '.join(Connection.Kind.values)}."})
    connection = Connection.objects.filter(name=name).first() or Connection(name=name)
    old_url = connection.server_url if connection.pk else ""
    connection.kind = kind
    connection.server_url = url
    connection.username = username
    connection.options = {**connection.options, **(options or {})}
    if secret:
        connection.set_secret(secret)
    connection.full_clean()
    connection.save()
    if old_url and old_url != url:
        move_linked_calendars(connection, old_url=old_url)
    return connection


def _origin(parts) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a split URL, RFC 3986 6.2.3: case and the scheme's default port do not count."""
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def moved_path(path: str, old_base: str, new_base: str) -> str:
    """`path` (a calendar's or an entry's path on the old server) where the server's move puts it.

    On the same server (scheme, host and port, RFC 3986 6.2.3) every path stays as it is, whatever
    the new address's path: the configured address is only where discovery starts (RFC 6764 5, a
    context path, the root or a principal URL), and calendars are found from the principal's
    calendar-home-set (RFC 4791 6.2.1), whose URLs the server gave us and the stored paths still
    are (review8 F4). A path-prefix change there ("/dav/" to "/caldav/") moves nothing: a calendar
    the server no longer answers at its stored URL fails its sync naming that URL.

    On another server, the part the old and new addresses share at their end stays and the part
    before it is swapped: "/alice/work/" moves to "/radicale/alice/work/" when "http://a:5232/"
    becomes "https://b/radicale/", and "/dav/alice/" to "/caldav/alice/" when ".../dav/" becomes
    ".../caldav/". A new address that already names the start of the path on the new server (the
    user's own collection: "https://b/dav/alice/" for "/alice/work/") is not repeated:
    "/dav/alice/work/", never "/dav/alice/alice/work/". A path outside the old address's own
    prefix is kept as it is."""
    old_parts, new_parts = urlsplit(old_base), urlsplit(new_base)
    if _origin(old_parts) == _origin(new_parts):
        return path
    old, new = _segments(old_parts.path), _segments(new_parts.path)
    while old and new and old[-1] == new[-1]:
        old, new = old[:-1], new[:-1]
    parts = _segments(path)
    if parts[: len(old)] != old:
        return path
    rest = parts[len(old) :]
    overlap = next((k for k in range(min(len(new), len(rest)), 0, -1) if new[-k:] == rest[:k]), 0)
    moved = "/" + "/".join(new[: len(new) - overlap] + rest)
    return moved + "/" if path.endswith("/") and moved != "/" else moved


def moved_calendar_url(url: str, old_base: str, new_base: str) -> str | None:
    """The absolute URL `url` (a calendar on the server at `old_base`) has once the server is at
    `new_base` (scheme, host, port and path prefix, see moved_path). None when `url` is not on the
    old server (another scheme, host or port: a calendar the server sent us elsewhere, iCloud's
    pNN-caldav hosts), which the move cannot place."""
    parts, old = urlsplit(url), urlsplit(old_base)
    if _origin(parts) != _origin(old):
        return None
    new, path = urlsplit(new_base), moved_path(parts.path, old_base, new_base)
    if _origin(new) == _origin(parts):  # the same server: its URL as stored, spelt as it was
        return parts._replace(path=path).geturl()
    return parts._replace(scheme=new.scheme, netloc=new.netloc, path=path).geturl()


@transaction.atomic
def move_linked_calendars(connection: Connection, *, old_url: str) -> dict[str, int]:
    """Make a change of a connection's server address (from `old_url` to `connection.server_url`)
    take effect for every technician's calendar linked through it (trial F1).

    CalDAV links keep each calendar's absolute URL (resolved at link time) and their entries' paths:
    on another server these are moved onto the new address (moved_calendar_url). A calendar on
    another host than the old address is left, and its sync log says so (relink it); one on the
    same server (scheme, host and port: only where discovery starts changed, see moved_path) is
    kept with its sync token. Exchange (folder ids), Microsoft 365 and Google (calendar ids) name
    calendars by ids the provider reads at every sync against the connection's current address.

    Every calendar whose place changed (each CalDAV calendar moved, every calendar of the other
    kinds) is marked for its first listing after a move (`mark_moved`): its sync token is dropped
    (another server's tokens differ: RFC 6578 3.2 lets the next pull list the whole calendar), any
    back-off ends, and that first listing re-creates the linked entries the new place lacks
    instead of deleting their appointments (the new server may be empty). Each linked calendar
    gets one line in its sync log. Returns {"moved": n, "left": n, "kept": n}."""
    new_url = connection.server_url
    counts = {"moved": 0, "left": 0, "kept": 0}
    if connection.kind != Connection.Kind.CALDAV:
        for agent_calendar in connection.agent_calendars.select_related("agent__user"):
            mark_moved(agent_calendar, moved_from=old_url)
            agent_calendar.save(update_fields=["sync_token", "next_pull_at", "moved_from", "relink"])
            _log_server_move(
                agent_calendar,
                f"The connection's server address changed from {old_url} to {new_url}: "
                "the next sync lists the calendar at the new address in full, and re-creates there "
                "the helpdesk's entries it does not hold.",
            )
            counts["moved"] += 1
        return counts
    for agent_calendar in connection.agent_calendars.select_related("agent__user"):
        if not agent_calendar.calendar_id:
            counts["moved"] += 1  # resolved on its first sync, on the new address
            mark_moved(agent_calendar, moved_from=old_url)
            agent_calendar.save(update_fields=["sync_token", "next_pull_at", "moved_from", "relink"])
            continue
        moved = moved_calendar_url(agent_calendar.calendar_id, old_url, new_url)
        key = remote_calendar_key(connection.kind, moved or "")
        taken = key and AgentCalendar.objects.filter(remote_key=key).exclude(pk=agent_calendar.pk).exists()
        if moved is None or taken:
            counts["left"] += 1
            why = "another link holds that calendar" if taken else "it is not on the old server's address"
            _log_server_move(
                agent_calendar,
                f"The connection's server address changed from {old_url} to {new_url}, but this calendar "
                f"({agent_calendar.calendar_id}) was left where it is: {why}. Disconnect it and link it again.",
                result=SyncLogEntry.Result.ERROR,
            )
            continue
        if moved == agent_calendar.calendar_id:  # the same server at another of its addresses (moved_path)
            counts["kept"] += 1
            _log_server_move(
                agent_calendar,
                f"The connection's server address changed from {old_url} to {new_url}, an address of the "
                f"same server: this calendar is still read at {moved}.",
            )
            continue
        old_calendar = agent_calendar.calendar_id
        agent_calendar.calendar_id, agent_calendar.remote_key = moved, key
        mark_moved(agent_calendar, moved_from=old_calendar)
        agent_calendar.import_retry = {
            moved_path(path, old_url, new_url): reason for path, reason in (agent_calendar.import_retry or {}).items()
        }
        agent_calendar.save(
            update_fields=[
                "calendar_id",
                "remote_key",
                "sync_token",
                "next_pull_at",
                "import_retry",
                "moved_from",
                "relink",
            ]
        )
        links = list(agent_calendar.links.exclude(remote_id="").only("pk", "remote_id"))
        for link in links:
            link.remote_id = moved_path(link.remote_id, old_url, new_url)
        SyncLink.objects.bulk_update(links, ["remote_id"], batch_size=500)
        counts["moved"] += 1
        _log_server_move(
            agent_calendar,
            f"The connection's server address changed from {old_url} to {new_url}: this calendar is now "
            f"read at {moved} (was {old_calendar}); its first listing there re-creates the helpdesk's "
            "entries it does not hold.",
        )
    return counts


def mark_moved(agent_calendar: AgentCalendar, *, moved_from: str, relink: dict | None = None) -> AgentCalendar:
    """Mark `agent_calendar` (not saved: the caller saves `sync_token`, `next_pull_at`, `moved_from`
    and `relink` with its own changes) as read from a new place from now on: a new server address,
    another calendar URL. `moved_from`: the old place (an address or a calendar URL), named in the
    sync log. `relink`: None for a server move (the same calendar elsewhere: every linked entry
    comes along), else `AgentCalendar.relink` of a relink to another calendar (`mark_relinked`).
    The sync token of the old place goes (RFC 6578 3.2: the next pull lists the whole
    calendar) and any back-off ends. Until that first full listing succeeds, the engine takes an
    entry missing there as one the new place never held (it is pushed again), never as deleted.
    A second move before that listing names the latest old place, so a run that listed the first
    new place does not end the second move (engine._sync_held). Returns `agent_calendar`."""
    agent_calendar.sync_token = ""
    agent_calendar.next_pull_at = None
    agent_calendar.moved_from = moved_from[:1100]
    agent_calendar.relink = relink or {}
    return agent_calendar


def mark_relinked(
    agent_calendar: AgentCalendar, *, old_calendar: str, by_name: bool, remove_old: bool
) -> AgentCalendar:
    """Mark `agent_calendar` (not saved: the caller saves it) as relinked by an admin to another
    calendar, from `old_calendar` (its calendar id before, "" when never resolved). `by_name`: the
    calendar name changed while the id did not: the id is cleared, so the worker finds the named
    calendar (`provider.find_calendar`; a name that is not there fails the sync with the calendars
    that are). `remove_old`: once the first full listing at the new place has re-created the
    helpdesk's entries, the worker deletes from `old_calendar` the ones the helpdesk put there
    (origin HELPDESK, ids kept here; engine `_clean_old_calendar`), never the technician's own.
    The technician's own entries stay in the old calendar and are not copied (engine
    `_left_in_old_calendar`). A new calendar URL on another server than `old_calendar` (scheme,
    host, port) is the same calendar moved to another server: marked as a server move
    (`mark_moved` without `relink`), where every linked entry comes along and nothing is removed.
    Returns `agent_calendar`."""
    if by_name:
        agent_calendar.calendar_id = ""
    agent_calendar.remote_key = ""  # another calendar: the worker checks no other link holds it first
    new = urlsplit(agent_calendar.calendar_id)
    if new.netloc and old_calendar and _origin(new) != _origin(urlsplit(old_calendar)):
        return mark_moved(agent_calendar, moved_from=old_calendar)
    relink = {"from": old_calendar or "another calendar"}
    if remove_old and old_calendar and agent_calendar.pk:
        links = agent_calendar.links.filter(origin=SyncLink.Origin.HELPDESK).exclude(remote_id="")
        relink["remove"] = list(links.values_list("remote_id", flat=True))
    return mark_moved(agent_calendar, moved_from=old_calendar or "another calendar", relink=relink)


def _log_server_move(agent_calendar: AgentCalendar, message: str, result: str = SyncLogEntry.Result.OK) -> None:
    SyncLogEntry.objects.create(
        agent_calendar=agent_calendar,
        agent=agent_calendar.agent,
        direction=SyncLogEntry.Direction.OUTBOUND,
        operation="server moved",
        result=result,
        message=message[:2000],
        routine=result == SyncLogEntry.Result.OK,
    )


def mailbox_to_test(connection: Connection) -> str | None:
    """The technician's mailbox a connection test opens: the one the admin chose, or the first connected."""
    chosen = (connection.options or {}).get("test_mailbox")
    if chosen:
        return chosen
    first = connection.agent_calendars.select_related("agent__user").order_by("pk").first()
    return first.mailbox_address if first is not None else None


def test_connection(connection: Connection, mailbox: str | None = None) -> str:
    """A one-line "what works", saying what was tested: the connection's account (service account,
    app) on its server, and through it the calendar of `mailbox` (default `mailbox_to_test`) when
    there is one, and the calendar named on that technician's link when it has a name. Raises
    ConnectionProblem saying plainly what does not work (a named calendar that is not there, or
    that names several)."""
    mailbox = mailbox or mailbox_to_test(connection)
    tied = None
    if mailbox:
        links = connection.agent_calendars.select_related("agent__user")
        tied = next((ac for ac in links if ac.mailbox_address == mailbox and ac.calendar_name), None)
    try:
        provider = provider_for(connection)
        message = provider.test_connection(mailbox)
        if tied is not None:
            provider.find_calendar(mailbox, tied.calendar_name)
            message = f"{message.rstrip('.')}; {tied.agent.name}'s linked calendar {tied.calendar_name!r} is found."
        return message
    except ConnectionProblem:
        raise
    except ProviderError as error:
        raise ConnectionProblem(str(error)) from error
    except Exception as error:  # a library's surprise still gets a message, not a crash page
        logger.exception("Testing %s failed", connection)
        raise ConnectionProblem(f"The test failed unexpectedly: {error}") from error


def queue_connection_test(connection: Connection) -> None:
    """Test `connection` in the worker once the caller's transaction commits (never in a web
    request), as admin's "Test connection" does: until then its last test says it is queued, for
    the last test was of something else (an old server address). The outcome is kept by
    `record_connection_test`."""
    from integrations.tasks import run_connection_test  # tasks -> engine; imported late, used on commit

    pk = connection.pk
    connection.last_test_at, connection.last_test_ok = None, None
    connection.last_test_message = f"queued: {connection.server_url} is being tested"
    Connection.objects.filter(pk=pk).update(
        last_test_at=None, last_test_ok=None, last_test_message=connection.last_test_message
    )
    transaction.on_commit(lambda: run_connection_test.delay(pk))


def record_connection_test(connection: Connection) -> str:
    """Run the connection test and keep its outcome on the connection (`last_test_at`, `last_test_ok`,
    `last_test_message`), where admin shows the last test, whoever ran it (admin's button, the
    worker, `add_connection`). Returns the message; a failure is recorded, not raised."""
    try:
        message, ok = test_connection(connection), True
    except ConnectionProblem as problem:
        message, ok = str(problem), False
    connection.last_test_at, connection.last_test_ok, connection.last_test_message = timezone.now(), ok, message
    Connection.objects.filter(pk=connection.pk).update(
        last_test_at=connection.last_test_at, last_test_ok=ok, last_test_message=message
    )
    return message


@transaction.atomic
def connect_agent(
    agent: Agent,
    *,
    connection: Connection,
    calendar: str | None = None,
    import_external: bool | None = None,
    shared_account: bool = False,
) -> AgentCalendar:
    """Tie a technician to their calendar on a connection (the default one unless named).

    Running it again for the same technician, connection and calendar returns that one link
    (onboarding scripts may repeat). Raises ValidationError, before any outbound call where it can,
    when the connection's account is someone else's and `shared_account` (the admin's word that it
    is shared with or delegated to the technician) is not given (selectors.account_not_theirs); when
    the technician's link on this connection holds another calendar (disconnect it first); and when
    the calendar found is already linked, to this technician or another, through another link
    (SPEC S3.9: never a duplicate). Raises ProviderError when the calendar cannot be found."""
    from integrations import selectors

    account = selectors.account_not_theirs(agent, connection)
    if account and not shared_account:
        raise ValidationError(selectors.not_theirs_message(agent, connection, account))
    existing = AgentCalendar.objects.filter(agent=agent, connection=connection).first()
    found = provider_for(connection).find_calendar(agent.mailbox, calendar)
    key = selectors.remote_calendar_key(connection.kind, found.calendar_id)
    if (
        existing is not None
        and existing.calendar_id
        and selectors.remote_calendar_key(connection.kind, existing.calendar_id) not in ("", key)
    ):
        raise ValidationError(selectors.second_link_message(existing))
    other = selectors.other_link_to_same_calendar(
        existing or AgentCalendar(agent=agent, connection=connection), found.calendar_id
    )
    if other is not None:
        raise ValidationError(selectors.already_linked_message(other, linking=agent))
    # A link whose calendar was cleared while it kept entries gets a calendar found anew: its first
    # listing there must not take those entries for deleted (engine: AgentCalendar.moved_from).
    relinked = existing is not None and not existing.calendar_id and existing.links.exclude(remote_id="").exists()
    agent_calendar, _ = AgentCalendar.objects.update_or_create(
        agent=agent,
        connection=connection,
        defaults={
            "calendar_id": found.calendar_id,
            "calendar_name": calendar or "",
            "sync_token": "",
            "state": AgentCalendar.State.ACTIVE,
            "last_error": "",
            "shared_account": bool(account) and shared_account,
            "remote_key": key,
            **(
                {"moved_from": "the calendar this link held before", "relink": {"from": "the calendar before"}}
                if relinked
                else {}
            ),
        },
    )
    if import_external is not None and agent.import_external != import_external:
        agent.import_external = import_external
        agent.save(update_fields=["import_external"])
    return agent_calendar


# --- disconnecting a technician's calendar --------------------------------------------------------------


def record_unfinished_disconnect(agent_calendar_id: int, reason: str) -> bool:
    """The worker gave up on a Disconnect (integrations.tasks.finish_disconnect ran out of tries:
    the calendar stayed busy or its server faulty): nothing picks a paused calendar up again, so
    the admin is told where they look, as `engine.finish_disconnect` does for entries it could not
    remove: the calendar's last error and an ERROR entry in its sync log, both saying what is left
    and to disconnect it again. `reason`: why the tries ran out, one line. False when the calendar
    is gone meanwhile (the disconnect finished after all)."""
    agent_calendar = AgentCalendar.objects.select_related("agent__user", "connection").filter(pk=agent_calendar_id)
    agent_calendar = agent_calendar.first()
    if agent_calendar is None:
        return False
    message = (
        f"Disconnect not finished: {reason}. The entries the helpdesk put on the calendar may still be "
        "on it and the link stays paused: disconnect it again to retry."
    )[:2000]
    AgentCalendar.objects.filter(pk=agent_calendar.pk).update(last_error=message, last_error_at=timezone.now())
    _log_disconnect(agent_calendar, message, result=SyncLogEntry.Result.ERROR)
    return True


def _log_disconnect(agent_calendar: AgentCalendar, message: str, *, result: str = SyncLogEntry.Result.OK) -> None:
    """One "disconnect" line in the calendar's sync log (what the admin reads)."""
    SyncLogEntry.objects.create(
        agent_calendar=agent_calendar,
        agent=agent_calendar.agent,
        calendar_label=str(agent_calendar)[:255],
        direction=SyncLogEntry.Direction.OUTBOUND,
        operation="disconnect",
        result=result,
        message=message,
    )


def keep_sync_log(sender=None, *, instance: AgentCalendar, **_) -> int:
    """Receiver of AgentCalendar's pre_delete: stamp the technician and the calendar's name on its
    sync log, so the entries stay (with the technician) when the calendar row goes, however it
    goes (Disconnect, a connection or a technician deleted, the shell): the log's link to it is
    SET_NULL. Returns the rows stamped."""
    return SyncLogEntry.objects.filter(agent_calendar=instance).update(
        agent=instance.agent_id, calendar_label=str(instance)[:255]
    )


def _imported_from(agent_calendar: AgentCalendar):
    """The appointments (series masters and single ones) imported from this calendar."""
    return Appointment.objects.filter(
        sync_links__agent_calendar=agent_calendar,
        sync_links__origin=SyncLink.Origin.EXTERNAL,
        source=Appointment.Source.EXTERNAL,
        master__isnull=True,
    ).distinct()


def disconnect_counts(agent_calendar: AgentCalendar) -> dict[str, int]:
    """What a disconnect of this calendar concerns: {"pushed": entries the helpdesk put on the
    remote calendar, "imported": appointments imported from it, "imported_shared": of those, the
    ones a coordinator since gave other technicians too (kept by a disconnect)}."""
    links = agent_calendar.links
    imported = _imported_from(agent_calendar)
    shared = sum(
        1
        for appointment in imported.prefetch_related("agents")
        if [agent.pk for agent in appointment.agents.all()] != [agent_calendar.agent_id]
    )
    return {
        "pushed": links.filter(origin=SyncLink.Origin.HELPDESK).exclude(remote_id="").count(),
        "imported": imported.count(),
        "imported_shared": shared,
    }


@transaction.atomic
def disconnect_agent_calendar(
    agent_calendar: AgentCalendar, *, remove_pushed: bool, remove_imported: bool, by=None
) -> dict[str, int]:
    """Disconnect a technician's calendar: it stops syncing at once (paused), its sync log is kept
    with the technician, a summary entry says who disconnected it and what was asked.

    `remove_imported`: the appointments imported from it leave the helpdesk now (one a coordinator
    gave other technicians too stays). Their deletion is not pushed back to this calendar (paused:
    the technician's own entries stay there) but reaches the technician's other calendars.
    `remove_pushed`: the entries the helpdesk put on the remote calendar are deleted by the worker
    after commit (integrations.tasks.finish_disconnect; never in the web request), which then
    deletes the link. Without it the link is deleted by that task too and the entries stay on the
    calendar, no longer managed. Returns {"pushed", "imported", "removed_imported"}."""
    from calendars import services as calendar_services
    from integrations.tasks import finish_disconnect

    agent_calendar = (
        AgentCalendar.objects.select_for_update().select_related("agent__user", "connection").get(pk=agent_calendar.pk)
    )
    counts = disconnect_counts(agent_calendar)
    agent_calendar.state = AgentCalendar.State.PAUSED
    agent_calendar.save(update_fields=["state"])
    removed = 0
    if remove_imported:
        for appointment in _imported_from(agent_calendar).prefetch_related("agents", "sync_links"):
            if [agent.pk for agent in appointment.agents.all()] != [agent_calendar.agent_id]:
                continue  # also on another technician's calendar: theirs to keep
            if any(link.agent_calendar_id != agent_calendar.pk for link in appointment.sync_links.all()):
                calendar_services.delete_appointment(appointment, by=by)  # its copies elsewhere go too
                removed += 1
            else:
                removed += calendar_services.delete_imported([appointment.pk]) and 1
    who = _who(by)
    what = [
        f"{counts['pushed']} entries the helpdesk put on the calendar "
        + ("are being removed from it" if remove_pushed else "stay on it, no longer managed"),
        f"{removed} appointment(s) imported from it removed from the helpdesk"
        if remove_imported
        else f"{counts['imported']} appointment(s) imported from it stay in the helpdesk",
    ]
    _log_disconnect(agent_calendar, f"Disconnected by {who}: " + "; ".join(what) + ".")
    pk = agent_calendar.pk
    transaction.on_commit(lambda: finish_disconnect.delay(pk, remove_pushed))
    return {**counts, "removed_imported": removed}


def connect_own_google_calendar(agent: Agent, *, connection: Connection, refresh_token: str) -> AgentCalendar:
    """Tie a technician to their Google calendar through their own sign-in (OAuth, offline access):
    the refresh token is stored encrypted on their AgentCalendar, then the primary calendar is found
    with it. Raises ConnectionProblem when Google refuses the token (the row keeps no token then)."""
    agent_calendar, _ = AgentCalendar.objects.get_or_create(agent=agent, connection=connection)
    agent_calendar.set_secret(refresh_token)
    agent_calendar.save(update_fields=["secret_encrypted"])
    from integrations import selectors

    try:
        found = provider_for(connection).find_calendar(agent.mailbox)
        other = selectors.other_link_to_same_calendar(agent_calendar, found.calendar_id)
        if other is not None:
            raise ConnectionProblem(selectors.already_linked_message(other))
    except ProviderError:
        AgentCalendar.objects.filter(pk=agent_calendar.pk, calendar_id="").delete()
        raise
    agent_calendar.calendar_id = found.calendar_id
    agent_calendar.remote_key = selectors.remote_calendar_key(connection.kind, found.calendar_id)
    agent_calendar.sync_token = ""
    agent_calendar.state = AgentCalendar.State.ACTIVE
    agent_calendar.last_error = ""
    agent_calendar.save(update_fields=["calendar_id", "remote_key", "sync_token", "state", "last_error"])
    return agent_calendar


@transaction.atomic
def queue_existing_appointments(agent_calendar: AgentCalendar, *, since: datetime) -> int:
    """Mark a newly connected technician's coming appointments for a push (per policy)."""
    policy = effective_sync_policy(agent_calendar.agent)
    if policy == SyncPolicy.NEVER:
        return 0
    appointments = Appointment.objects.filter(agents=agent_calendar.agent, master__isnull=True, end__gte=since)
    appointments = appointments.exclude(sync_links__agent_calendar=agent_calendar)
    count = 0
    for appointment in appointments:
        SyncLink.objects.create(
            agent_calendar=agent_calendar,
            appointment=appointment,
            pending=True,
            approval=SyncLink.Approval.WAITING if policy == SyncPolicy.ASK else SyncLink.Approval.NOT_NEEDED,
        )
        count += 1
    return count


# --- Microsoft 365 change notifications: hints to pull early -----------------------------------------

GRAPH_SUBSCRIPTION_DAYS = 3  # Graph keeps event subscriptions at most 7 days (10080 minutes)
GRAPH_RENEW_BEFORE_HOURS = 24


def graph_notification_url() -> str | None:
    """Where Graph delivers notifications, or None when the site has no public https address."""
    from django.conf import settings

    base = (getattr(settings, "PUBLIC_SITE_URL", "") or "").rstrip("/")
    # Graph delivers only to https; plain http is taken for this machine alone (a local test server).
    if not base.startswith(("https://", "http://127.0.0.1:", "http://localhost:")):
        return None
    return f"{base}/integrations/graph/notify/"


def refresh_graph_subscriptions(now: datetime | None = None) -> dict[str, int]:
    """Beat: subscribe every active Microsoft 365 calendar that has no subscription, renew those
    expiring within a day, re-subscribe those Graph has dropped. Off (nothing done) without a public
    site address. Returns counts {"created", "renewed", "failed"}; a failure is logged, never raised."""
    import secrets
    from datetime import timedelta

    from integrations.models import GraphSubscription
    from integrations.providers import registry
    from integrations.providers.base import RemoteCalendar, RemoteNotFound

    counts = {"created": 0, "renewed": 0, "failed": 0}
    url = graph_notification_url()
    if url is None:
        return counts
    now = now or timezone.now()
    until = now + timedelta(days=GRAPH_SUBSCRIPTION_DAYS)
    calendars = AgentCalendar.objects.filter(
        connection__kind=Connection.Kind.GRAPH, connection__is_active=True, agent__is_active=True
    ).exclude(state=AgentCalendar.State.PAUSED)
    for agent_calendar in calendars.select_related("connection", "agent__user"):
        remote = RemoteCalendar(agent_calendar.mailbox_address, agent_calendar.calendar_id)
        existing = GraphSubscription.objects.filter(agent_calendar=agent_calendar).first()
        try:
            provider = registry.build(agent_calendar.connection)
            if existing is not None and existing.expires_at > now + timedelta(hours=GRAPH_RENEW_BEFORE_HOURS):
                continue
            if existing is not None:
                try:
                    existing.expires_at = provider.renew(remote, existing.subscription_id, until)
                    existing.save(update_fields=["expires_at"])
                    counts["renewed"] += 1
                    continue
                except RemoteNotFound:
                    existing.delete()
            client_state = secrets.token_urlsafe(32)
            subscription_id, expires_at = provider.subscribe(remote, url, client_state, until)
            GraphSubscription.objects.update_or_create(
                agent_calendar=agent_calendar,
                defaults={"subscription_id": subscription_id, "client_state": client_state, "expires_at": expires_at},
            )
            counts["created"] += 1
        except ProviderError as error:
            logger.warning("Change notifications for %s: %s", agent_calendar, error)
            counts["failed"] += 1
    return counts


def graph_notification_targets(payload: dict) -> tuple[set[int], set[int]]:
    """The agent calendars a Graph notification body (`{"value": [...]}`) is about, among those
    whose clientState matches the one we gave (others are ignored): (calendars to pull, calendars
    whose subscription needs renewing or re-creating, from lifecycle notifications)."""
    import hmac

    from integrations.models import GraphSubscription

    to_pull: set[int] = set()
    to_renew: set[int] = set()
    items = payload.get("value") if isinstance(payload, dict) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        subscription = GraphSubscription.objects.filter(subscription_id=str(item.get("subscriptionId", ""))).first()
        if subscription is None:
            continue
        if not hmac.compare_digest(str(item.get("clientState", "")), subscription.client_state):
            logger.warning("A Graph notification with a wrong clientState was ignored.")
            continue
        lifecycle = item.get("lifecycleEvent")
        if lifecycle in ("reauthorizationRequired", "subscriptionRemoved"):
            # Due now: the renewal task renews it (or, when Graph no longer has it, makes a new one).
            to_renew.add(subscription.agent_calendar_id)
            subscription.expires_at = timezone.now()
            subscription.save(update_fields=["expires_at"])
        if lifecycle in (None, "missed", "subscriptionRemoved"):
            to_pull.add(subscription.agent_calendar_id)
    return to_pull, to_renew


# --- Microsoft 365 delegated sign-in: a technician connects their own calendar ------------------------


class DelegatedGrants:
    """The technicians' Microsoft 365 refresh tokens on one connection, encrypted at rest: what the
    Graph provider asks for (GrantStore), kept here so the provider never touches the ORM."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _grant(self, mailbox: str):
        from integrations.models import DelegatedGrant

        for grant in DelegatedGrant.objects.filter(agent_calendar__connection=self.connection).select_related(
            "agent_calendar__agent__user"
        ):
            if grant.agent_calendar.mailbox_address.lower() == mailbox.lower():
                return grant
        return None

    def refresh_token(self, mailbox: str) -> str | None:
        grant = self._grant(mailbox)
        return grant.get_refresh_token() if grant is not None and grant.revoked_at is None else None

    def rotated(self, mailbox: str, refresh_token: str) -> None:
        grant = self._grant(mailbox)
        if grant is not None:
            grant.set_refresh_token(refresh_token)
            grant.save(update_fields=["refresh_token_encrypted", "updated_at"])

    def revoked(self, mailbox: str, message: str) -> None:
        grant = self._grant(mailbox)
        if grant is not None:
            grant.revoked_at = timezone.now()
            grant.save(update_fields=["revoked_at", "updated_at"])


def delegated_connections(agent: Agent) -> list[dict]:
    """Microsoft 365 connections where technicians sign in themselves, with this technician's state:
    [{"connection", "agent_calendar" (or None), "needs_sign_in" (never connected or revoked)}]."""
    from integrations.models import DelegatedGrant

    result = []
    for connection in Connection.objects.filter(kind=Connection.Kind.GRAPH, is_active=True):
        if not (connection.options or {}).get("delegated"):
            continue
        agent_calendar = AgentCalendar.objects.filter(agent=agent, connection=connection).first()
        grant = DelegatedGrant.objects.filter(agent_calendar=agent_calendar).first() if agent_calendar else None
        result.append(
            {
                "connection": connection,
                "agent_calendar": agent_calendar,
                "needs_sign_in": grant is None or grant.revoked_at is not None,
                "revoked": grant is not None and grant.revoked_at is not None,
            }
        )
    return result


def _graph_sign_in_settings(connection: Connection):
    """The GraphSettings a technician's sign-in needs (no secret: the browser never sees it)."""
    from integrations.providers.graph.client import GraphSettings

    options = connection.options or {}
    return GraphSettings(
        tenant_id=options.get("tenant_id", ""),
        client_id=connection.username,
        secret="",
        authority=options.get("authority", ""),
        base_url=connection.server_url or "https://graph.microsoft.com/v1.0",
    )


def sign_in_origins(connections) -> list[str]:
    """The origins ("https://login.microsoftonline.com", "https://accounts.google.com") of the sign-in
    pages these Microsoft 365 and Google connections send a technician's browser to, sorted.

    Our "Connect" forms post to this site, which redirects to that page; browsers check the
    Content-Security-Policy's form-action on every redirect of a form submission (CSP Level 3,
    form-action), so the page carrying the form must allow these origins or the sign-in stops there."""
    from integrations.providers.google.signin import GOOGLE_AUTH_URI

    origins = set()
    for connection in connections:
        if connection.kind == Connection.Kind.GRAPH:
            address = _graph_sign_in_settings(connection).authority_url
        elif connection.kind == Connection.Kind.GOOGLE:
            address = (connection.options or {}).get("auth_uri") or GOOGLE_AUTH_URI
        else:
            continue
        parts = urlsplit(address)
        if parts.scheme in ("https", "http") and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


def start_delegated_sign_in(agent: Agent, connection: Connection, redirect_uri: str) -> tuple[str, dict]:
    """(the authorize URL to send the browser to, what the session keeps until the callback: state
    and PKCE verifier, RFC 7636). No outbound call."""
    import base64
    import hashlib
    import secrets

    from integrations.providers.graph import authorize_url

    settings = _graph_sign_in_settings(connection)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(24)
    url = authorize_url(
        settings, redirect_uri=redirect_uri, state=state, code_challenge=challenge, login_hint=agent.mailbox
    )
    return url, {"state": state, "verifier": verifier, "connection": connection.pk, "redirect_uri": redirect_uri}


def finish_delegated_sign_in(agent: Agent, connection: Connection, code: str, verifier: str, redirect_uri: str):
    """Redeem the technician's authorization code (worker side), store the refresh token encrypted,
    tie their calendar and queue its first pull. Raises ConnectionProblem saying what went wrong."""
    from integrations.models import DelegatedGrant
    from integrations.tasks import pull_agent_calendar

    provider = provider_for(connection)
    refresh_token, account = provider.redeem_code(code, verifier, redirect_uri)
    mailbox = account if account and account.lower() != agent.mailbox.lower() else ""
    agent_calendar, _ = AgentCalendar.objects.update_or_create(
        agent=agent,
        connection=connection,
        defaults={"mailbox": mailbox, "state": AgentCalendar.State.ACTIVE, "last_error": ""},
    )
    grant = DelegatedGrant.objects.filter(agent_calendar=agent_calendar).first() or DelegatedGrant(
        agent_calendar=agent_calendar
    )
    grant.account = account
    grant.revoked_at = None
    grant.set_refresh_token(refresh_token)
    grant.save()
    transaction.on_commit(lambda: pull_agent_calendar.delay(agent_calendar.pk))
    return agent_calendar


# --- Google push channels: hints that something changed; polling stays the safety net --------------

GOOGLE_CHANNEL_SECONDS = 7 * 24 * 60 * 60  # asked for; Google may give less
GOOGLE_CHANNEL_RENEW_BEFORE = timedelta(hours=24)


def google_notify_address() -> str | None:
    """The public address Google posts notifications to, or None when the site has no public URL
    (settings.PUBLIC_SITE_URL): then no channel is opened and polling alone keeps calendars in step."""
    base = (getattr(settings, "PUBLIC_SITE_URL", "") or "").strip()
    if not base:
        return None
    return base.rstrip("/") + reverse("integrations:google_notify")


def open_google_channel(agent_calendar: AgentCalendar) -> bool:
    """Open (or replace) the push channel of a Google calendar with a fresh id and token; the old
    one is stopped. False when push is off (no public URL) or the calendar is not on Google.
    Raises ProviderError when Google refuses; the calendar keeps syncing by polling then."""
    address = google_notify_address()
    if address is None or agent_calendar.connection.kind != Connection.Kind.GOOGLE or not agent_calendar.calendar_id:
        return False
    provider = provider_for(agent_calendar.connection)
    calendar = RemoteCalendar(agent_calendar.mailbox_address.lower(), agent_calendar.calendar_id)
    if agent_calendar.push_channel_id:
        try:
            provider.stop_watch(
                calendar, channel_id=agent_calendar.push_channel_id, resource_id=agent_calendar.push_resource_id
            )
        except ProviderError as error:
            logger.info("Could not stop channel %s: %s", agent_calendar.push_channel_id, error)
    channel_id, token = uuid.uuid4().hex, secrets.token_urlsafe(32)
    # Stored before the call: Google's first ("sync") message may arrive before watch() returns.
    AgentCalendar.objects.filter(pk=agent_calendar.pk).update(push_channel_id=channel_id, push_token=token)
    resource_id, expires = provider.watch(
        calendar, address=address, channel_id=channel_id, token=token, ttl_seconds=GOOGLE_CHANNEL_SECONDS
    )
    agent_calendar.push_channel_id, agent_calendar.push_token = channel_id, token
    agent_calendar.push_resource_id, agent_calendar.push_expires_at = resource_id, expires
    agent_calendar.save(update_fields=["push_channel_id", "push_token", "push_resource_id", "push_expires_at"])
    return True


def renew_google_channels(*, now: datetime | None = None) -> int:
    """Open a channel for every active Google calendar without one, or whose channel ends within
    GOOGLE_CHANNEL_RENEW_BEFORE; the number opened. Nothing when push is off."""
    if google_notify_address() is None:
        return 0
    now = now or timezone.now()
    due = AgentCalendar.objects.filter(
        connection__kind=Connection.Kind.GOOGLE, connection__is_active=True, agent__is_active=True
    ).exclude(state=AgentCalendar.State.PAUSED)
    due = due.exclude(push_expires_at__gt=now + GOOGLE_CHANNEL_RENEW_BEFORE)
    opened = 0
    for agent_calendar in due.select_related("connection", "agent__user"):
        try:
            opened += open_google_channel(agent_calendar)
        except ProviderError as error:
            logger.warning("No push channel for %s: %s", agent_calendar, error)
    return opened


def google_notification(*, channel_id: str, token: str, state: str) -> bool:
    """A notification Google posted: True when it names a channel we opened with the right token.
    An "exists" (or "not_exists") message queues a pull of that calendar after commit and does
    nothing else; the first "sync" message of a channel only confirms it."""
    agent_calendar = AgentCalendar.objects.filter(push_channel_id=channel_id).exclude(push_channel_id="").first()
    if agent_calendar is None or not secrets.compare_digest(agent_calendar.push_token or "", token or ""):
        return False
    if state != "sync":
        from integrations.tasks import pull_agent_calendar  # tasks -> engine; imported late

        pk = agent_calendar.pk
        transaction.on_commit(lambda: pull_agent_calendar.delay(pk))
    return True


# --- a technician's own Google sign-in ("Connect my Google calendar") ---------------------------------


def google_sign_in_connections():
    """Active Google connections where each technician signs in with their own account."""
    return [
        connection
        for connection in Connection.objects.filter(kind=Connection.Kind.GOOGLE, is_active=True)
        if connection.option("auth") == "oauth"
    ]


def google_consent_address(
    agent: Agent, connection: Connection, *, redirect_uri: str, state: str, code_verifier: str
) -> str:
    """Where to send the technician's browser to allow access (no outbound call), with the PKCE
    challenge of `code_verifier` (google.signin.new_code_verifier, kept in the session)."""
    from integrations.providers.google.signin import GOOGLE_AUTH_URI, consent_address

    return consent_address(
        auth_uri=(connection.options or {}).get("auth_uri") or GOOGLE_AUTH_URI,
        client_id=connection.username,
        redirect_uri=redirect_uri,
        state=state,
        code_verifier=code_verifier,
        login_hint=agent.mailbox,
    )


def finish_google_sign_in(
    agent: Agent, connection: Connection, *, code: str, redirect_uri: str, code_verifier: str = ""
) -> AgentCalendar:
    """Exchange the code Google gave the browser for a refresh token, then tie the technician to their
    primary calendar with it (run by a worker), noted in the sync log. Raises ConnectionProblem
    saying what to do, TransientError when Google's sign-in service has a passing fault."""
    from integrations.providers.google import GOOGLE_TOKEN_URI
    from integrations.providers.google.signin import exchange_code

    token = exchange_code(
        token_uri=(connection.options or {}).get("token_uri") or GOOGLE_TOKEN_URI,
        client_id=connection.username,
        client_secret=connection.get_secret(),
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
    )
    agent_calendar = connect_own_google_calendar(agent, connection=connection, refresh_token=token)
    SyncLogEntry.objects.create(
        agent=agent,
        agent_calendar=agent_calendar,
        calendar_label=str(connection)[:255],
        direction=SyncLogEntry.Direction.INBOUND,
        operation=SyncLogEntry.GOOGLE_SIGN_IN,
        message=f"Signed in with Google; calendar {agent_calendar.calendar_id} connected.",
    )
    return agent_calendar


def record_google_sign_in_failure(agent: Agent, connection: Connection, error: ProviderError) -> SyncLogEntry:
    """Note in the sync log that the technician's Google sign-in on `connection` did not finish (a
    refusal, or a passing fault that outlasted the retries), with the message a person needs; the
    "Connect my Google calendar" page shows it until a later sign-in succeeds."""
    from integrations.sync import limits

    return SyncLogEntry.objects.create(
        agent=agent,
        agent_calendar=AgentCalendar.objects.filter(agent=agent, connection=connection).first(),
        calendar_label=str(connection)[:255],
        direction=SyncLogEntry.Direction.INBOUND,
        operation=SyncLogEntry.GOOGLE_SIGN_IN,
        result=SyncLogEntry.Result.ERROR,
        message=limits.describe(error)[:2000],
    )


def queue_poll_round(now: datetime | None = None) -> int:
    """One beat tick of polling: queue the pull of every polled calendar at its own slot within
    the pull interval (countdown in seconds, integrations.sync.schedule), skipping calendars still
    backing off after failed pulls. Two queries and one broker message per calendar queued;
    returns how many were queued."""
    from integrations import selectors
    from integrations.sync import schedule
    from integrations.tasks import pull_agent_calendar  # tasks -> engine; imported late

    now = now or timezone.now()
    interval = selectors.pull_interval_seconds()
    plan = schedule.plan_round(selectors.calendars_to_pull(), interval=interval, now=now)
    for pk, countdown in plan:
        pull_agent_calendar.apply_async((pk,), countdown=countdown)
    return len(plan)


def forget_private_text(appointment: Appointment, *, subject: bool = True) -> int:
    """Wipe what the sync log holds of an entry the external calendar now marks private
    (calendars.privacy): its subject becomes "(private)" (unless `subject` is False: a public
    series with one private occurrence keeps its own) and the texts a conflict overwrote become
    "(private)", in its JSON and in the message's "Overwritten in ..." sentence. The links'
    snapshots seal themselves when next saved. Returns the rows changed."""
    from integrations.models import SyncLogEntry
    from integrations.sync import conflicts, privacy

    changed = 0
    rows = (
        SyncLogEntry.objects.filter(link__appointment=appointment)
        .select_related("agent_calendar__agent")
        .only("pk", "subject", "overwritten", "message", "direction", "agent_calendar__agent__time_zone")
    )
    for row in rows:
        fields = {}
        if subject and row.subject != privacy.PRIVATE_LABEL:
            fields["subject"] = privacy.PRIVATE_LABEL
        masked = privacy.masked_values(row.overwritten, private=True)
        if masked != row.overwritten:
            fields["overwritten"] = masked
            fields["message"] = conflicts.restate(
                row.message,
                masked,
                side=conflicts.EXTERNAL if row.direction == SyncLogEntry.Direction.OUTBOUND else conflicts.HELPDESK,
                zone=str(row.agent_calendar.agent.time_zone),
                private=True,
            )
        if fields:
            changed += SyncLogEntry.objects.filter(pk=row.pk).update(**fields)
    return changed


# --- sync log retention (issue 14) ----------------------------------------------------------

PRUNE_BATCH = 10_000


def prune_sync_log(*, now: datetime | None = None) -> int:
    """Remove sync log entries older than CalendarSettings.sync_log_days (days before `now`,
    UTC); 0 keeps everything. Deletes in batches of PRUNE_BATCH rows, each its own short
    statement, so a large backlog never holds one long lock. Returns the number removed."""
    days = CalendarSettings.load().sync_log_days
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    removed = 0
    while True:
        batch = list(SyncLogEntry.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH])
        if not batch:
            return removed
        removed += SyncLogEntry.objects.filter(pk__in=batch).delete()[0]
