"""Who may change what, for pages and API alike.

- Coordinators (permission `agents.coordinate`) edit every request and appointment.
- A technician edits the requests assigned to them, their own actions and the appointments
  on their own calendar; they create appointments for themselves, or for anyone on a request
  assigned to them.
- Every other signed-in user reads only.
- An imported private entry (source external, private) is nobody's to read or edit here: it
  shows as busy time with "Data unavailable" everywhere (S2.5).

The checks take objects whose related technicians were prefetched, so a list asks them for
every row without a query per row.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, User

from agents.models import Agent
from calendars.models import Appointment
from tickets.models import Action, Request

DATA_UNAVAILABLE = "Data unavailable"


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


def is_hidden(appointment: Appointment) -> bool:
    """An imported private entry: only its time may be shown."""
    return appointment.source == Appointment.Source.EXTERNAL and appointment.private


def _agent_ids(agents: Iterable[Agent]) -> set[int]:
    return {agent.pk for agent in agents}


def can_create_request(user) -> bool:
    return is_coordinator(user) or agent_of(user) is not None


def can_edit_request(user, request: Request) -> bool:
    if is_coordinator(user):
        return True
    agent = agent_of(user)
    return agent is not None and agent.pk in _agent_ids(request.assigned_agents.all())


def can_delete_request(user, request: Request) -> bool:
    return is_coordinator(user)


def can_log_action(user, request: Request, *, for_agent: Agent | None = None) -> bool:
    """Coordinators log work for anyone; an assigned technician logs their own."""
    if is_coordinator(user):
        return True
    agent = agent_of(user)
    if agent is None or not can_edit_request(user, request):
        return False
    return for_agent is None or for_agent.pk == agent.pk


def can_edit_action(user, action: Action) -> bool:
    if is_coordinator(user):
        return True
    agent = agent_of(user)
    return agent is not None and action.agent_id == agent.pk


def can_create_appointment(user, *, agents: Iterable[Agent], request: Request | None = None) -> bool:
    if is_coordinator(user):
        return True
    agent = agent_of(user)
    if agent is None:
        return False
    if request is not None and can_edit_request(user, request):
        return True
    ids = _agent_ids(agents)
    return bool(ids) and ids == {agent.pk}


def can_edit_appointment(user, appointment: Appointment) -> bool:
    if is_hidden(appointment):
        return False
    if is_coordinator(user):
        return True
    agent = agent_of(user)
    return agent is not None and agent.pk in _agent_ids(appointment.agents.all())
