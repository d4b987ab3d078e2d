"""The one ownership rule: an imported entry stays with the technician whose calendar it came from.

An appointment imported from a technician's own external calendar (`Source.EXTERNAL`: a dentist
visit made in her phone's calendar) is her own time, owned by that calendar, not by the helpdesk.
The helpdesk may show it as busy time and, where allowed, change its time, but never give it to
another technician: moving it would take it off her calendar, and the sync would then delete her
own event there (trial report, problem 1). So its technicians never change here, wherever a
change could come from (API, pages, the group calendar's drag, admin); the sync engine, for its
part, never deletes an imported entry remotely because it left its technician
(`integrations.sync.engine`). Only the external calendar itself takes the technician off it
(the entry deleted there: `calendars.services.leave_appointment`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from calendars.models import Appointment

if TYPE_CHECKING:
    from agents.models import Agent


def keeps_technicians(source: str) -> bool:
    """Whether an appointment of this source (`Appointment.Source`) keeps its technicians: an
    imported entry does. Takes the source, so rows read as plain values can ask too."""
    return source == Appointment.Source.EXTERNAL


def refusal(names: Iterable[str]) -> str:
    """The message a person gets for trying to change an imported entry's technicians; `names`:
    the technicians it stays with."""
    whose = ", ".join(names) or "the technician"
    return (
        f"This entry was imported from {whose}'s own calendar and stays on it: it cannot be given to "
        "another technician (its time can change here). Ask them to change it in their own calendar."
    )


def check_technicians(appointment: Appointment, agents: Iterable[Agent]) -> None:
    """Raise ValidationError({"agents": refusal}) when `agents` would change the technicians of
    an appointment that keeps them (`keeps_technicians`); a new appointment, another source or
    the same technicians pass. Reads the appointment's technicians (prefetched ones when there)."""
    if appointment.pk is None or not keeps_technicians(appointment.source):
        return
    current = list(appointment.agents.all())
    if {agent.pk for agent in agents} != {agent.pk for agent in current}:
        raise ValidationError({"agents": refusal(agent.name for agent in current)})
