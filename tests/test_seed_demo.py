from io import StringIO

from django.core.management import call_command

from agents.models import Agent, Team
from calendars.models import Appointment
from tickets.models import Action, Request


def counts() -> tuple[int, ...]:
    return (Agent.objects.count(), Team.objects.count(), Request.objects.count(), Action.objects.count(),
            Appointment.objects.count())  # fmt: skip


def test_seed_demo_makes_the_demo_once_and_prints_the_logins(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    call_command("seed_demo", stdout=StringIO())

    assert counts() == first
    assert "coordinator" in out.getvalue() and "demo1234" in out.getvalue()
    assert Agent.objects.count() == 8
    assert set(Team.objects.values_list("name", flat=True)) == {"Field service", "Service desk"}
    assert len({str(agent.time_zone) for agent in Agent.objects.all()}) >= 2
    assert Request.objects.filter(planned_start__isnull=False).count() == 60
    assert Appointment.objects.filter(source=Appointment.Source.ACTION).exists()
    assert Appointment.objects.filter(source=Appointment.Source.MANUAL, agents__isnull=False).exists()
    series = Appointment.objects.get(schedule__isnull=False)
    assert series.occurrences.filter(is_cancelled=True).count() == 1
    assert series.occurrences.filter(is_modified=True, is_cancelled=False).count() == 1
