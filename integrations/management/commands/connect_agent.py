from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from agents.models import Agent
from integrations import services
from integrations.models import Connection
from integrations.providers.base import ProviderError


class Command(BaseCommand):
    help = "Connect a technician's calendar to an external calendar (their default calendar unless one is named)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--connection", required=True)
        parser.add_argument("--calendar", default=None, help="Remote calendar name or address.")
        parser.add_argument(
            "--shared-account",
            action="store_true",
            help="The connection's account is not the technician's own but shared with or delegated to them.",
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--import", dest="import_external", action="store_true", default=None)
        group.add_argument("--no-import", dest="import_external", action="store_false")

    def handle(self, *args, username, connection, calendar, import_external, shared_account, **options):
        agent = Agent.objects.filter(user__username=username).first()
        if agent is None:
            raise CommandError(f"No technician with user name {username!r}.")
        found = Connection.objects.filter(name=connection).first()
        if found is None:
            raise CommandError(f"No connection called {connection!r}; add it with add_connection first.")
        try:
            agent_calendar = services.connect_agent(
                agent,
                connection=found,
                calendar=calendar,
                import_external=import_external,
                shared_account=shared_account,
            )
        except ProviderError as error:
            raise CommandError(str(error)) from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        queued = services.queue_existing_appointments(agent_calendar, since=timezone.now())
        self.stdout.write(
            f"{agent} is connected to {agent_calendar.calendar_id} "
            f"(import {'on' if agent.import_external else 'off'}; {queued} appointment(s) queued)."
        )
