"""Reads for the sync pages, the header badge and admin."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet, TextChoices, Window
from django.db.models.functions import RowNumber

from agents.models import Agent
from integrations.models import AgentCalendar, Connection, SyncLink, SyncLogEntry, remote_calendar_key

WAITING = SyncLink.Approval.WAITING


def waiting_for_approval(agent: Agent) -> QuerySet:
    """The technician's "to approve" list: appointments that wait before they are pushed."""
    return (
        SyncLink.objects.filter(agent_calendar__agent=agent, approval=WAITING, appointment__isnull=False)
        .select_related("appointment", "appointment__request", "agent_calendar__connection")
        .order_by("appointment__start")
    )


def approval_count(user) -> int:
    agent = getattr(user, "agent", None) if getattr(user, "is_authenticated", False) else None
    if agent is None:
        return 0
    return SyncLink.objects.filter(agent_calendar__agent=agent, approval=WAITING, appointment__isnull=False).count()


# Log entries about a whole calendar (its sign-in, its disconnect, who paused or resumed it), not about one entry.
CALENDAR_OPERATIONS = ("connect", "disconnect", "pause", "resume", "state")


class ExternalCalendarState(TextChoices):
    """Where an appointment stands on one technician's external calendar, as a coordinator
    planning their day needs to know it (trial report F4; Outlook shows each attendee's answer)."""

    WAITING = "waiting", "Waiting for their approval"
    DECLINED = "declined", "Declined: kept off their calendar"
    PAUSED = "paused", "Sync paused: sent when resumed"
    SENDING = "sending", "Being sent to their calendar"
    FAILING = "failing", "Sync failing: retrying"
    ON_CALENDAR = "on_calendar", "On their calendar"


def _external_state(
    approval: str, pending: bool, failures: int, synced: bool, calendar_state: str
) -> ExternalCalendarState:
    """The table, in the order checked: asked and not answered; declined; the technician's
    calendar paused; a push failing, or the whole calendar failing (a wrong password: no push of
    it gets through); a push to come (approved, a change, or never sent); else the copy out
    there is in step."""
    if approval == SyncLink.Approval.WAITING:
        return ExternalCalendarState.WAITING
    if approval == SyncLink.Approval.DECLINED:
        return ExternalCalendarState.DECLINED
    if calendar_state == AgentCalendar.State.PAUSED:
        return ExternalCalendarState.PAUSED
    if failures or calendar_state == AgentCalendar.State.FAILING:
        return ExternalCalendarState.FAILING
    if pending or not synced:
        return ExternalCalendarState.SENDING
    return ExternalCalendarState.ON_CALENDAR


def external_calendar_states(appointment_ids: Iterable[int] | QuerySet) -> dict[int, list[dict]]:
    """Per appointment id, where it stands on the external calendar of each of its technicians
    who has one: `[{"agent": agent id, "calendar": the connection's name, "state":
    ExternalCalendarState value, "label": its text}]`, by agent id (a technician with two
    calendars has a line for each). In one query, whatever the number of appointments. `appointment_ids`: ids, or a
    QuerySet of one column of ids, run as a subquery (the group calendar's window).

    Give series masters' ids for occurrences (a series syncs as one entry, its link is the
    master's): the lines of a given master's occurrences linked on their own (a technician not on
    the series given one occurrence: its one-off entry, integrations.services) come too, under
    the occurrence's id. A technician of the appointment without an entry here has no connected calendar,
    or policy Never; a link of a technician no longer on the appointment (a removal on its way)
    is left out.
    """
    if isinstance(appointment_ids, QuerySet):
        ids = appointment_ids  # a subquery of ids: joined by the database
    else:
        ids = set(appointment_ids)
        if not ids:
            return {}
    rows = (
        SyncLink.objects.filter(
            Q(appointment_id__in=ids) | Q(appointment__master_id__in=ids),
            appointment__agents=F("agent_calendar__agent"),
        )
        .values_list(
            "appointment_id",
            "agent_calendar__agent_id",
            "agent_calendar__connection__name",
            "agent_calendar__state",
            "approval",
            "pending",
            "failures",
            "local_hash",
            "remote_hash",
        )
        .order_by("appointment_id", "agent_calendar__agent_id", "pk")
    )
    states: dict[int, list[dict]] = {}
    for appointment_id, agent_id, calendar, calendar_state, approval, pending, failures, local, remote in rows:
        state = _external_state(approval, pending, failures, bool(local or remote), calendar_state)
        states.setdefault(appointment_id, []).append(
            {"agent": agent_id, "calendar": calendar, "state": state.value, "label": state.label}
        )
    return states


def entry_states(
    states: dict[int, list[dict]], *, target: int, agent_ids: Iterable[int], cancelled: bool, entry: int | None = None
) -> list[dict]:
    """The lines of `external_calendar_states` (`states`) for one entry shown: `target` is the
    id its link hangs on (a series' master for its occurrences), `agent_ids` the entry's own
    technicians (one who left an occurrence on their own has no copy of it) and `cancelled` says
    it is cancelled (on nobody's calendar: no line). `entry`: the entry's own id, whose own links
    (an occurrence given to a technician not on the series) add their lines."""
    if cancelled:
        return []
    own = set(agent_ids)
    lines = states.get(target, [])
    if entry is not None and entry != target:
        lines = [*lines, *states.get(entry, [])]
    return [state for state in lines if state["agent"] in own]


def external_calendar_lines(appointments: Iterable) -> dict[int, list[tuple[str, str]]]:
    """For pages: per appointment's pk, `(technician's name, state in words)` of
    `external_calendar_states`, in one query. Reads each appointment's `agents` (prefetch them,
    with their users, for a list)."""
    appointments = list(appointments)
    states = external_calendar_states(a.master_id or a.pk for a in appointments)
    lines = {}
    for appointment in appointments:
        names = {agent.pk: agent.name for agent in appointment.agents.all()}
        own = entry_states(
            states,
            target=appointment.master_id or appointment.pk,
            agent_ids=names,
            cancelled=appointment.is_cancelled,
            entry=appointment.pk,
        )
        lines[appointment.pk] = [(names[state["agent"]], state["label"]) for state in own]
    return lines


@dataclass(frozen=True)
class CalendarHealth:
    agent_calendar: AgentCalendar
    last_sync: datetime | None
    last_error: str  # the detail, for admins: it may name a shared account or say what to configure
    pending: int
    waiting: int
    failing: int

    @property
    def status(self) -> str:
        """A short status for the technician, naming no account and giving no admin advice."""
        return technician_status(self.agent_calendar)


def technician_status(agent_calendar: AgentCalendar) -> str:
    """One sentence a technician reads about their calendar link (Outlook and HaloPSA show the
    agent a short status, the admin the detail)."""
    if agent_calendar.state == AgentCalendar.State.PAUSED:
        return "Paused by an administrator: nothing is synced until it is resumed."
    if agent_calendar.state == AgentCalendar.State.FAILING:
        return "Not working: your calendar link needs an administrator, who sees the details in the sync overview."
    if agent_calendar.last_error:
        return "Working, but some entries could not be synced yet: they are tried again automatically."
    if agent_calendar.last_sync is None:
        return "Waiting for its first sync."
    return "Working."


def calendars_with_health(agents: QuerySet | list | None = None) -> list[CalendarHealth]:
    """Per agent calendar: last sync, last error, pending count, in one query."""
    calendars = AgentCalendar.objects.select_related("agent__user", "connection").annotate(
        pending_count=Count("links", filter=Q(links__pending=True) & ~Q(links__approval=WAITING)),
        waiting_count=Count("links", filter=Q(links__approval=WAITING)),
        failing_count=Count("links", filter=Q(links__failures__gt=0)),
    )
    if agents is not None:
        calendars = calendars.filter(agent__in=agents)
    return [
        CalendarHealth(
            c, c.last_sync, c.last_error, c.pending_count, c.waiting_count, c.failing_count + len(c.import_retry or {})
        )
        for c in calendars
    ]


def recent_log(agent: Agent, limit: int = 20) -> QuerySet:
    """The technician's latest sync log entries, those of calendars since disconnected included."""
    mine = Q(agent_calendar__agent=agent) | Q(agent_calendar__isnull=True, agent=agent)
    return SyncLogEntry.objects.filter(mine).select_related("agent_calendar__connection")[:limit]


def entries_with_notes(agent: Agent, limit: int = 20) -> QuerySet:
    """The agent's most recent log lines about entries read from their calendars that say
    something: a failure, or what the helpdesk changed or doubted on reading (a bounded series, a
    cut text, an unknown time zone); not the routine lines that only say what changed or was
    deleted there (`SyncLogEntry.routine`). Kept apart from the recent activity, where a big import
    would push them out of sight."""
    return (
        SyncLogEntry.objects.filter(agent_calendar__agent=agent, direction=SyncLogEntry.Direction.INBOUND)
        .filter(Q(result=SyncLogEntry.Result.ERROR) | ~Q(message=""))
        .exclude(routine=True)  # what changed there, said in every pulled change's line
        .exclude(operation__in=CALENDAR_OPERATIONS)  # a failed sign-in is the calendar's, not an entry's
        .select_related("agent_calendar__connection")[:limit]
    )


# --- operating the sync at scale: the beat's round, the metrics, the admin summary ----------------

SYNC_ALL_TASK = "integrations.tasks.sync_all_calendars"


def pull_interval_seconds() -> int:
    """The pull interval in seconds: the "sync-calendars" periodic task's interval as edited in
    admin (django-celery-beat), else the CELERY_BEAT_SCHEDULE default (SYNC_PULL_SECONDS). One query."""
    from django.conf import settings
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    task = PeriodicTask.objects.filter(task=SYNC_ALL_TASK, enabled=True, interval__isnull=False)
    task = task.select_related("interval").first()
    if task is not None:
        seconds = {
            IntervalSchedule.DAYS: 86400,
            IntervalSchedule.HOURS: 3600,
            IntervalSchedule.MINUTES: 60,
            IntervalSchedule.SECONDS: 1,
            IntervalSchedule.MICROSECONDS: 1e-6,
        }[task.interval.period] * task.interval.every
        if seconds >= 1:
            return int(seconds)
    schedule = settings.CELERY_BEAT_SCHEDULE["sync-calendars"]["schedule"]
    return int(getattr(schedule, "total_seconds", lambda: schedule)())


def calendars_to_pull() -> list[tuple[int, datetime | None]]:
    """(agent calendar id, next_pull_at) of every calendar the beat polls: active connection and
    technician, not paused. One query, no model instances."""
    return list(
        AgentCalendar.objects.filter(connection__is_active=True, agent__is_active=True)
        .exclude(state=AgentCalendar.State.PAUSED)
        .values_list("pk", "next_pull_at")
    )


def calendars_with_pending_pushes() -> set[int]:
    """Ids of the polled calendars (`calendars_to_pull`'s) that hold helpdesk changes not yet sent
    (links marked pending, not waiting for a technician's approval). One query."""
    return set(
        SyncLink.objects.filter(
            pending=True, agent_calendar__connection__is_active=True, agent_calendar__agent__is_active=True
        )
        .exclude(approval=SyncLink.Approval.WAITING)
        .exclude(agent_calendar__state=AgentCalendar.State.PAUSED)
        .values_list("agent_calendar_id", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class CalendarStatus:
    """One agent calendar as operators see it. Times are aware UTC; lag in seconds since the last
    good pull, or for a calendar never pulled since it was linked (so a link that never worked
    ages like any other and trips the lag alert)."""

    pk: int
    agent: str  # the technician's login: a stable metrics label
    agent_name: str  # as people call them (full name, else login): what pages show
    connection: str
    connection_id: int
    state: str
    polled: bool
    last_pull_at: datetime | None
    lag_seconds: float
    pull_failures: int
    next_pull_at: datetime | None
    last_error: str
    pending: int
    waiting: int
    failing_links: int
    linked_at: datetime | None = None

    @property
    def never_pulled(self) -> bool:
        return self.last_pull_at is None


@dataclass
class ConnectionStatus:
    """Totals of one connection's calendars; `max_lag_seconds` is the worst lag of its polled
    calendars (never-pulled ones counted from when they were linked); None: none is polled."""

    pk: int
    name: str
    kind: str
    is_active: bool
    calendars: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    never_pulled: int = 0
    max_lag_seconds: float | None = None
    backing_off: int = 0
    failed_pulls: int = 0
    pending: int = 0
    waiting: int = 0
    failing_links: int = 0


@dataclass(frozen=True)
class SyncOverview:
    now: datetime
    connections: list[ConnectionStatus]
    calendars: list[CalendarStatus]

    def most_lagging(self, limit: int = 20) -> list[CalendarStatus]:
        """Calendars never pulled first, then by lag, longest first."""
        return sorted(self.calendars, key=lambda c: (not c.never_pulled, -c.lag_seconds))[:limit]

    def backing_off(self) -> list[CalendarStatus]:
        return sorted(
            (c for c in self.calendars if c.next_pull_at and c.next_pull_at > self.now), key=lambda c: c.next_pull_at
        )


def sync_overview(now: datetime | None = None) -> SyncOverview:
    """Every connection and agent calendar with lag (seconds since the last good pull, or since the
    link for a calendar never pulled), failed pulls, back-off and link counts (waiting to be pushed,
    waiting for approval, failing), in two queries whatever the number of calendars or links.
    `now`: aware, default the present."""
    from django.utils import timezone

    now = now or timezone.now()
    connections = {
        row["pk"]: ConnectionStatus(pk=row["pk"], name=row["name"], kind=row["kind"], is_active=row["is_active"])
        for row in Connection.objects.values("pk", "name", "kind", "is_active")
    }
    rows = (
        AgentCalendar.objects.order_by("pk")
        .values(
            "pk",
            "agent__user__username",
            "agent__user__first_name",
            "agent__user__last_name",
            "agent__is_active",
            "connection_id",
            "state",
            "last_pull_at",
            "linked_at",
            "pull_failures",
            "next_pull_at",
            "last_error",
        )
        .annotate(
            pending=Count("links", filter=Q(links__pending=True) & ~Q(links__approval=WAITING)),
            waiting=Count("links", filter=Q(links__approval=WAITING, links__appointment__isnull=False)),
            failing_links=Count("links", filter=Q(links__failures__gt=0)),
        )
    )
    calendars = []
    for row in rows:
        connection = connections[row["connection_id"]]
        # Never pulled: aged from the link, so the lag alert fires for a calendar that never worked.
        lag = max(0.0, (now - (row["last_pull_at"] or row["linked_at"])).total_seconds())
        status = CalendarStatus(
            pk=row["pk"],
            agent=row["agent__user__username"],
            agent_name=f"{row['agent__user__first_name']} {row['agent__user__last_name']}".strip()
            or row["agent__user__username"],
            connection=connection.name,
            connection_id=connection.pk,
            state=row["state"],
            polled=connection.is_active and row["agent__is_active"] and row["state"] != AgentCalendar.State.PAUSED,
            last_pull_at=row["last_pull_at"],
            lag_seconds=lag,
            pull_failures=row["pull_failures"],
            next_pull_at=row["next_pull_at"],
            last_error=row["last_error"],
            pending=row["pending"],
            waiting=row["waiting"],
            failing_links=row["failing_links"],
            linked_at=row["linked_at"],
        )
        calendars.append(status)
        connection.calendars += 1
        connection.by_state[status.state] = connection.by_state.get(status.state, 0) + 1
        connection.never_pulled += status.never_pulled
        if status.polled:
            connection.max_lag_seconds = max(connection.max_lag_seconds or 0.0, lag)
        connection.backing_off += bool(status.next_pull_at and status.next_pull_at > now)
        connection.failed_pulls += status.pull_failures
        connection.pending += status.pending
        connection.waiting += status.waiting
        connection.failing_links += status.failing_links
    return SyncOverview(now=now, connections=list(connections.values()), calendars=calendars)


# --- one technician, one remote calendar (SPEC S3.9, S5) --------------------------------------------


def other_link_to_same_calendar(agent_calendar: AgentCalendar, calendar_id: str | None = None) -> AgentCalendar | None:
    """The other link (any technician, any connection of the same kind) that holds the remote
    calendar `calendar_id` (default: this link's own) names, or None. A link holds a calendar once
    its `remote_key` is set (unique); a resolved link not yet checked (its address typed in admin,
    or made before the key existed) counts when its address is the very same. One query."""
    calendar_id = calendar_id if calendar_id is not None else agent_calendar.calendar_id
    kind = agent_calendar.connection.kind
    key = remote_calendar_key(kind, calendar_id)
    if not key:
        return None
    others = AgentCalendar.objects.filter(Q(remote_key=key) | Q(remote_key="", calendar_id=calendar_id.strip()))
    others = others.filter(connection__kind=kind)
    if agent_calendar.pk is not None:
        others = others.exclude(pk=agent_calendar.pk)
    # The holder first, then the oldest.
    found = sorted(
        others.select_related("agent__user", "connection"), key=lambda other: (not other.remote_key, other.pk)
    )
    return found[0] if found else None


def _signs_in_themselves(connection: Connection) -> bool:
    """Connections where each technician signs in with their own account (Microsoft 365 delegated,
    Google OAuth): the account is whoever signed in, by their own consent."""
    if connection.kind == Connection.Kind.GRAPH:
        return bool((connection.options or {}).get("delegated"))
    return connection.kind == Connection.Kind.GOOGLE and connection.option("auth") == "oauth"


def account_not_theirs(agent: Agent, connection: Connection, mailbox: str = "") -> str | None:
    """The account or mailbox, not the technician's own, that a link of `agent` to `connection`
    (with the link's `mailbox` override, empty for the technician's) would read and write; None when
    the calendar is the technician's.

    How each kind is modelled decides it:
    - CalDAV without a calendar home: the connection is one person's account (the account's own
      calendars, caldav.CalDAVProvider), so its user name must be the technician's (their login, the
      part of their mailbox before the @, or the whole mailbox).
    - CalDAV with a calendar home, Exchange (impersonation or delegate), Microsoft 365 with the
      app's permission, Google with domain-wide delegation: a service account reaches each
      technician's own mailbox by design; only a mailbox override naming someone else's counts.
    - Microsoft 365 delegated and Google OAuth: each technician signs in themselves: never.
    """
    if _signs_in_themselves(connection):
        return None
    own_mailbox = (agent.mailbox or "").strip().lower()
    override = (mailbox or "").strip().lower()
    if override and override != own_mailbox:
        return mailbox.strip()
    if connection.kind == Connection.Kind.CALDAV and not (connection.options or {}).get("calendar_home"):
        account = (connection.username or "").strip().lower()
        if not account:
            return None
        own = {own_mailbox, own_mailbox.split("@", 1)[0], agent.user.username.lower()}
        if account not in own:
            return connection.username.strip()
    return None


def link_refusal(agent_calendar: AgentCalendar) -> str | None:
    """Why this link must not sync, before any outbound call, or None: the account is someone
    else's and no admin confirmed it is shared (`account_not_theirs`), or the link's calendar is
    resolved and another link holds it. A link that holds its calendar (`remote_key`) costs no
    query. The message names the other technician and connection: it is for admins (the
    technician's page shows a short status)."""
    account = account_not_theirs(agent_calendar.agent, agent_calendar.connection, agent_calendar.mailbox)
    if account and not agent_calendar.shared_account:
        return not_theirs_message(agent_calendar.agent, agent_calendar.connection, account)
    if agent_calendar.remote_key or not agent_calendar.calendar_id:
        return None
    other = other_link_to_same_calendar(agent_calendar)
    if other is not None and (other.remote_key or other.pk < agent_calendar.pk):
        return already_linked_message(other)
    return None


def link_form_refusal(
    agent: Agent,
    connection: Connection,
    *,
    link_pk: int | None = None,
    mailbox: str = "",
    calendar_id: str = "",
    calendar_name: str = "",
    shared_account: bool = False,
) -> tuple[str | None, str] | None:
    """Why a link as typed in admin (`link_pk`: the link edited, None for a new one) must be
    refused, before any outbound call: `(field or None, message)`, or None. The checks
    `link_refusal` makes on the worker, on what is known without one: a second link of the
    technician on this connection; another person's account not confirmed shared
    (`account_not_theirs`); a calendar another link holds (`other_link_to_same_calendar`) or, not
    resolved yet, the same mailbox and calendar name on this connection (on a one-account CalDAV
    connection every technician reaches that account's calendars)."""
    same = AgentCalendar.objects.filter(agent=agent, connection=connection).exclude(pk=link_pk).first()
    if same is not None:
        return None, second_link_message(same)
    account = account_not_theirs(agent, connection, mailbox)
    if account and not shared_account:
        return "shared_account", not_theirs_message(agent, connection, account)
    other = other_link_to_same_calendar(AgentCalendar(pk=link_pk, agent=agent, connection=connection), calendar_id)
    if other is None:
        one_account = connection.kind == Connection.Kind.CALDAV and not (connection.options or {}).get("calendar_home")
        address = (mailbox or agent.mailbox).lower()
        name = calendar_name.strip().lower()
        for candidate in connection.agent_calendars.exclude(pk=link_pk).select_related("agent__user", "connection"):
            same_box = one_account or candidate.mailbox_address.lower() == address
            if same_box and candidate.calendar_name.strip().lower() == name:
                other = candidate
                break
    return (None, already_linked_message(other, linking=agent)) if other is not None else None


def second_link_message(existing: AgentCalendar) -> str:
    """The refusal of a second link of a technician on a connection where they have `existing`."""
    calendar = existing.calendar_name or existing.calendar_id or "the default calendar"
    return (
        f"{existing.agent.name} is already linked through {existing.connection} ({calendar}): one link per "
        "technician and connection. Edit that link, or disconnect it first (Agent calendars, tick the link, action "
        '"Disconnect").'
    )


def already_linked_message(other: AgentCalendar, *, linking: Agent | None = None) -> str:
    """The refusal of a second link to the remote calendar `other` holds, naming the technician and
    connection holding it. `linking`: the technician an admin (admin form, `connect_agent`) is
    linking, when nothing is saved: the message says what to do to link it to them. Without it, the
    worker's stop of a saved link (sync health, the link's last error)."""
    held = f"This calendar is already linked to {other.agent.name} through {other.connection}"
    disconnect = 'Agent calendars, tick the link, action "Disconnect"'
    if linking is None:
        return (
            f"{held}: this link is stopped so that nothing is pushed into or imported from that calendar twice. "
            f"Disconnect one of the two links ({disconnect})."
        )
    calendar = other.calendar_name or other.calendar_id
    for_whom = "" if linking.pk == other.agent_id else f" to {linking.name}"
    return (
        f"{held} (calendar {calendar!r}), and a calendar has one link: this link was not saved. To link it"
        f"{for_whom}, first disconnect {other.agent.name}'s link ({disconnect}), then link again; or choose another "
        "calendar."
    )


def not_theirs_message(agent: Agent, connection: Connection, account: str) -> str:
    """The refusal of a link that would read and write another person's account."""
    return (
        f"The connection {connection} signs in as {account}, which is not {agent.name}'s own account: "
        f'link {agent.name}\'s own account, or confirm ("account shared with this technician") that '
        f"{account} shares or delegates this calendar to them."
    )


def last_google_sign_ins(agent: Agent, connections: Iterable[Connection]) -> dict[int, SyncLogEntry]:
    """{connection id: the newest "sign-in" SyncLogEntry of `agent` on it} for the "Connect my
    Google calendar" page: an ERROR one is a sign-in that did not finish, with its reason. The log
    names a connection by its label (str(connection)), as it keeps entries of deleted ones. One query."""
    by_label = {str(connection)[:255]: connection.pk for connection in connections}
    # Only the newest row of each label is read (a window function), not every sign-in the log
    # holds: a technician who signs in again and again must not make the page read them all.
    entries = (
        SyncLogEntry.objects.filter(agent=agent, operation=SyncLogEntry.GOOGLE_SIGN_IN, calendar_label__in=by_label)
        .annotate(
            newness=Window(
                RowNumber(), partition_by=[F("calendar_label")], order_by=[F("created_at").desc(), F("pk").desc()]
            )
        )
        .filter(newness=1)
    )
    return {by_label[entry.calendar_label]: entry for entry in entries}
