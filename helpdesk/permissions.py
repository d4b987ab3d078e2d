"""Who may change what, for pages and API alike: one table, read by every check.

Roles (`role_of`):
- admin: a superuser; coordinator: has the permission `agents.coordinate`;
- technician: has an active technician record; viewer: any other signed-in user.

The table `RULES` says, per role, kind of object (request, appointment, action) and verb
(create, edit, reassign, delete), in which cases the user may: a tuple of scopes, any one of
which is enough, empty for never.

Scopes, for a technician "me":
- ANY: always.
- ASSIGNED: the request (an appointment's or an action's request) is assigned to me.
- ON_REQUEST: appointment: its request is assigned to me, and every technician of the entry is
  assigned to that request too (so a request opens only its own technicians' calendars).
- MINE: request: (none); appointment: I am one of its technicians; action: I did the work.
- ALONE: appointment: on no request, and I am its only technician (so nobody else's
  calendar changes, and no request that is not mine gets an entry).
- SOLE: appointment: I am its only technician, on a request or not (so nobody else's
  calendar changes).

An appointment of logged work (source ACTION) is judged as its Action, by the action rules:
moving it rewrites when the work was done and for how long, and giving it to another technician
rewrites who did it (calendars.services keeps the Action in step), so a technician changes only
her own work log this way, never a colleague's, and never gives it away (review fault 1).

Editing and deleting an appointment have the same scopes: both change every calendar the
entry is on, so a technician changes or removes an entry shared with others (a team's
stand-up) only through a request assigned to her and to all of them; otherwise a coordinator does.

"Reassign" is changing who an object is for: a request's assigned technicians, an
appointment's technicians, the technician of an action. A technician puts entries only on
their own calendar, or, through a request assigned to her, on the calendars of that request's
assigned technicians; anyone else's calendar (another team, not on the request) needs a
coordinator (SPEC S2.2, S5; review fault 1).

An imported private entry (source external, private) is nobody's to read or edit here: it
shows as busy time with "Data unavailable" everywhere (S2.5).

The checks take objects whose related technicians were prefetched, so a list asks them for
every row without a query per row.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, User

from agents.models import Agent
from calendars import ownership, privacy
from calendars.models import Appointment
from tickets.models import Action, Request

DATA_UNAVAILABLE = privacy.DATA_UNAVAILABLE


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    TECHNICIAN = "technician"
    VIEWER = "viewer"


class Kind(StrEnum):
    REQUEST = "request"
    APPOINTMENT = "appointment"
    ACTION = "action"


class Verb(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    REASSIGN = "reassign"
    DELETE = "delete"


class Scope(StrEnum):
    ANY = "any"
    ASSIGNED = "assigned"
    ON_REQUEST = "on_request"
    MINE = "mine"
    ALONE = "alone"
    SOLE = "sole"


_EVERYTHING = {verb: (Scope.ANY,) for verb in Verb}
_NOTHING = {verb: () for verb in Verb}

RULES: dict[Role, dict[Kind, dict[Verb, tuple[Scope, ...]]]] = {
    Role.ADMIN: dict.fromkeys(Kind, _EVERYTHING),
    Role.COORDINATOR: dict.fromkeys(Kind, _EVERYTHING),
    Role.TECHNICIAN: {
        Kind.REQUEST: {
            Verb.CREATE: (Scope.ANY,),
            Verb.EDIT: (Scope.ASSIGNED,),
            Verb.REASSIGN: (Scope.ASSIGNED,),
            Verb.DELETE: (),
        },
        Kind.APPOINTMENT: {
            Verb.CREATE: (Scope.ALONE, Scope.ON_REQUEST),
            Verb.EDIT: (Scope.SOLE, Scope.ON_REQUEST),
            Verb.REASSIGN: (Scope.ON_REQUEST,),
            Verb.DELETE: (Scope.SOLE, Scope.ON_REQUEST),
        },
        Kind.ACTION: {
            Verb.CREATE: (Scope.ASSIGNED,),
            Verb.EDIT: (Scope.MINE,),
            Verb.REASSIGN: (),
            Verb.DELETE: (Scope.MINE,),
        },
    },
    Role.VIEWER: dict.fromkeys(Kind, _NOTHING),
}


@dataclass(frozen=True)
class Target:
    """What a check looks at, whether the object exists yet or not.

    agent_ids: the technicians it is for (request: assigned; appointment: its technicians;
    action: the one who did the work); request: the request it belongs to (itself for a request).
    """

    agent_ids: frozenset[int]
    request: Request | None = None
    # The request's assigned technicians, when a row was read as plain values (no Request).
    request_agent_ids: frozenset[int] | None = None


def is_coordinator(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm("agents.coordinate"))


def agent_of(user: User | AnonymousUser) -> Agent | None:
    """The user's technician record, if they have an active one (cached on the user)."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_helpdesk_agent"):
        agent = Agent.objects.filter(user=user, is_active=True).first()
        user._helpdesk_agent = agent
    return user._helpdesk_agent


def role_of(user: User | AnonymousUser) -> Role | None:
    """The user's role for the table; None when not signed in (or inactive)."""
    if not (user.is_authenticated and user.is_active):
        return None
    if user.is_superuser:
        return Role.ADMIN
    if is_coordinator(user):
        return Role.COORDINATOR
    if agent_of(user) is not None:
        return Role.TECHNICIAN
    return Role.VIEWER


def is_hidden(appointment: Appointment) -> bool:
    """An imported private entry: only its time may be shown (the rule: calendars.privacy)."""
    return privacy.is_hidden(appointment)


def _agent_ids(agents: Iterable[Agent]) -> frozenset[int]:
    return frozenset(agent.pk for agent in agents)


def _holds(scope: Scope, me: Agent | None, target: Target) -> bool:
    if scope == Scope.ANY:
        return True
    if me is None:
        return False
    if scope in (Scope.ASSIGNED, Scope.ON_REQUEST):
        if target.request_agent_ids is not None:
            assigned = target.request_agent_ids
        elif target.request is not None:
            assigned = _agent_ids(target.request.assigned_agents.all())
        else:
            return False
        return me.pk in assigned and (scope == Scope.ASSIGNED or target.agent_ids <= assigned)
    if scope == Scope.MINE:
        return me.pk in target.agent_ids
    if scope == Scope.ALONE:
        return target.request is None and target.agent_ids == {me.pk}
    if scope == Scope.SOLE:
        return target.agent_ids == {me.pk}
    raise ValueError(scope)


def allowed(user: User | AnonymousUser, verb: Verb, kind: Kind, target: Target | None = None) -> bool:
    """Whether the table lets this user do `verb` to an object of `kind` described by `target`.

    target None asks whether the user may do it to some object of that kind at all (e.g. to
    show a "New" button).
    """
    role = role_of(user)
    if role is None:
        return False
    scopes = RULES[role][kind][verb]
    if target is None:
        return bool(scopes)
    me = agent_of(user)
    return any(_holds(scope, me, target) for scope in scopes)


# --- the same checks by name, as pages and API call them ----------------------------------------


def _request_target(request: Request) -> Target:
    return Target(_agent_ids(request.assigned_agents.all()), request)


def _appointment_target(appointment: Appointment) -> Target:
    return Target(_agent_ids(appointment.agents.all()), appointment.request)


def _work_log_target(appointment: Appointment) -> Target | None:
    """The Action an appointment of logged work stands for, as the action rules judge it (the
    technician who did the work); None for any other appointment."""
    if appointment.source != Appointment.Source.ACTION or appointment.action_id is None:
        return None
    return Target(frozenset({appointment.action.agent_id}), appointment.request)


def can_create_request(user) -> bool:
    return allowed(user, Verb.CREATE, Kind.REQUEST)


def can_create_request_for(user, *, agents: Iterable[Agent], planned: bool) -> bool:
    """Whether the user may create a request assigned to `agents`. A planned one (`planned`:
    a planned start is given) puts an entry on each of their calendars at once, so the
    appointment CREATE rule must hold too, the new request counting as assigned to `agents`:
    a technician plans a new request only for herself or with herself among its technicians,
    as she could not create those entries directly (review fault 2)."""
    if not can_create_request(user):
        return False
    agent_ids = _agent_ids(agents)
    if not planned or not agent_ids:
        return True
    return allowed(user, Verb.CREATE, Kind.APPOINTMENT, Target(agent_ids, None, request_agent_ids=agent_ids))


PLANNED_FOR_OTHERS = (
    "You may plan a new request only on your own calendar: add yourself to its technicians, or "
    "leave the planned start empty and ask a coordinator to plan it."
)


def can_edit_request(user, request: Request) -> bool:
    return allowed(user, Verb.EDIT, Kind.REQUEST, _request_target(request))


def can_reassign_request(user, request: Request) -> bool:
    return allowed(user, Verb.REASSIGN, Kind.REQUEST, _request_target(request))


def can_delete_request(user, request: Request) -> bool:
    return allowed(user, Verb.DELETE, Kind.REQUEST, _request_target(request))


def can_log_action(user, request: Request, *, for_agent: Agent | None = None) -> bool:
    """Coordinators log work for anyone; an assigned technician logs their own.

    for_agent None asks whether the user may log work on this request at all.
    """
    me = agent_of(user)
    agent_ids = frozenset({for_agent.pk}) if for_agent is not None else frozenset({me.pk} if me else ())
    target = Target(agent_ids, request)
    if not allowed(user, Verb.CREATE, Kind.ACTION, target):
        return False
    if for_agent is not None and (me is None or for_agent.pk != me.pk):
        return allowed(user, Verb.REASSIGN, Kind.ACTION, target)
    return True


def can_edit_action(user, action: Action) -> bool:
    return allowed(user, Verb.EDIT, Kind.ACTION, Target(frozenset({action.agent_id}), action.request))


def can_reassign_action(user, action: Action) -> bool:
    return allowed(user, Verb.REASSIGN, Kind.ACTION, Target(frozenset({action.agent_id}), action.request))


def can_delete_action(user, action: Action) -> bool:
    return allowed(user, Verb.DELETE, Kind.ACTION, Target(frozenset({action.agent_id}), action.request))


def can_create_appointment(user, *, agents: Iterable[Agent], request: Request | None = None) -> bool:
    return allowed(user, Verb.CREATE, Kind.APPOINTMENT, Target(_agent_ids(agents), request))


def can_edit_appointment(user, appointment: Appointment) -> bool:
    """Whether the user may change the appointment's fields (an entry of logged work: the
    Action's edit rule)."""
    if is_hidden(appointment):
        return False
    work = _work_log_target(appointment)
    if work is not None:
        return allowed(user, Verb.EDIT, Kind.ACTION, work)
    return allowed(user, Verb.EDIT, Kind.APPOINTMENT, _appointment_target(appointment))


@dataclass(frozen=True)
class RowEditCheck:
    """`can_edit_appointment` for many appointments read as plain values: the user's role and
    technician are looked up once. `needs_request_agents`: pass each row's request's assigned
    technicians (the table lets this role edit by the request)."""

    scopes: tuple[Scope, ...]
    me: Agent | None
    # The action rule's scopes for the same verb: an entry of logged work is judged as its Action.
    work_scopes: tuple[Scope, ...] = ()

    @property
    def every_shown_row(self) -> bool:
        """Whether the answer is yes for every row that is not hidden, whatever its technicians,
        request or Action (a coordinator's: Scope.ANY in both rules): callers may then skip
        building each row's target (the group calendar's 300 technicians, issue 14)."""
        return Scope.ANY in self.scopes and Scope.ANY in self.work_scopes

    @property
    def needs_request_agents(self) -> bool:
        by_request = {Scope.ASSIGNED, Scope.ON_REQUEST}
        return bool(by_request & {*self.scopes, *self.work_scopes})

    def __call__(
        self,
        *,
        hidden: bool,
        agent_ids: frozenset[int],
        request_agent_ids: frozenset[int] | None = None,
        work_agent_id: int | None = None,
    ) -> bool:
        """`work_agent_id`: for an entry of logged work (source ACTION), the technician of its
        Action; None for any other entry."""
        scopes = self.scopes if work_agent_id is None else self.work_scopes
        if hidden or not scopes:
            return False
        if Scope.ANY in scopes:
            return True  # a coordinator's answer for every row: no target to build (group calendar, issue 14)
        if work_agent_id is not None:
            agent_ids = frozenset({work_agent_id})
        target = Target(agent_ids, None, request_agent_ids if request_agent_ids is not None else frozenset())
        return any(_holds(scope, self.me, target) for scope in scopes)


def appointment_row_edit_check(user, verb: Verb = Verb.EDIT) -> RowEditCheck:
    """See RowEditCheck; the same answers as `can_edit_appointment` (tests compare them). With
    `verb` REASSIGN: the table's answer for giving the entry to other technicians (the caller
    adds the edit check and calendars.ownership, as `can_reassign_appointment` does)."""
    role = role_of(user)
    scopes = RULES[role][Kind.APPOINTMENT][verb] if role is not None else ()
    work_scopes = RULES[role][Kind.ACTION][verb] if role is not None else ()
    return RowEditCheck(tuple(scopes), agent_of(user), tuple(work_scopes))


def can_change_agents(user, appointment: Appointment, agents: Iterable[Agent]) -> bool:
    """Editing an appointment's technicians: allowed without the reassign right only when the
    set does not change."""
    if not can_edit_appointment(user, appointment):
        return False
    target = _appointment_target(appointment)
    if _agent_ids(agents) == target.agent_ids:
        return True
    return _may_reassign(user, appointment, target)


def _may_reassign(user, appointment: Appointment, target: Target) -> bool:
    work = _work_log_target(appointment)
    if work is not None:
        return allowed(user, Verb.REASSIGN, Kind.ACTION, work)
    return allowed(user, Verb.REASSIGN, Kind.APPOINTMENT, target)


def can_reassign_appointment(user, appointment: Appointment) -> bool:
    """May the user give the appointment to other technicians (the group calendar's drag to
    another column)? Never for an entry imported from a technician's own calendar, which stays
    with them (calendars.ownership), whoever asks."""
    if ownership.keeps_technicians(appointment.source) or not can_edit_appointment(user, appointment):
        return False
    return _may_reassign(user, appointment, _appointment_target(appointment))


def can_delete_appointment(user, appointment: Appointment) -> bool:
    """Whether the user may delete the appointment (an entry of logged work: the Action's delete
    rule, as deleting it takes the work off the calendar)."""
    if is_hidden(appointment):
        return False
    work = _work_log_target(appointment)
    if work is not None:
        return allowed(user, Verb.DELETE, Kind.ACTION, work)
    return allowed(user, Verb.DELETE, Kind.APPOINTMENT, _appointment_target(appointment))
