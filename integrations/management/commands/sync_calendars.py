import gc

from django.core.management.base import BaseCommand, CommandError

from integrations.models import AgentCalendar
from integrations.providers.base import ProviderError
from integrations.sync import engine


class Command(BaseCommand):
    help = "Sync connected calendars now (push what waits, then pull the external changes)."
    # A worker's command: the system checks (which import every URL, the API and its schema) are
    # for `check` and the web server, not for a sync run by cron or by hand.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--agent", default=None, help="Only this technician (user name).")

    def handle(self, *args, agent, **options):
        # What start-up loaded (modules, the app registry: several hundred thousand objects) lives
        # until the process ends: out of the garbage collector's way, a big import's collections
        # and the process's exit cost a fraction (issue 14's bench: about a tenth of a 2,000-entry
        # import's CPU time). Each run also collects less often (engine.fewer_collections).
        gc.freeze()
        self._sync(agent)

    def _sync(self, agent: str | None) -> None:
        calendars = AgentCalendar.objects.select_related("agent__user", "connection").exclude(
            state=AgentCalendar.State.PAUSED
        )
        if agent:
            calendars = calendars.filter(agent__user__username=agent)
            if not calendars.exists():
                raise CommandError(f"{agent!r} has no connected calendar.")
        failures = 0
        for agent_calendar in calendars:
            try:
                report = engine.sync_agent_calendar(agent_calendar, pull=True)
            except engine.CalendarBusy:
                self.stdout.write(f"{agent_calendar}: another worker is syncing it right now.")
                continue
            except ProviderError as error:
                failures += 1
                self.stderr.write(f"{agent_calendar}: {error}")
                continue
            self.stdout.write(f"{agent_calendar}: {report.summary()}")
            failures += 1 if report.failed else 0
        if failures:
            raise CommandError(f"{failures} calendar(s) did not sync completely.")
