"""Connect the demo technicians to a local Radicale (deploy/radicale.conf), for `make run`."""

import configparser
import logging
import threading
from datetime import timedelta
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from agents.models import Agent
from integrations import services
from integrations.models import AgentCalendar
from integrations.providers.base import ProviderError

CONFIG = Path(settings.BASE_DIR) / "deploy" / "radicale.conf"
PASSWORD = "demo1234"
SERVICE_USER = "helpdesk"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class Command(BaseCommand):
    help = "Create CalDAV calendars on the demo Radicale for the demo technicians and connect them."

    def handle(self, *args, **options):
        import radicale
        import radicale.config

        logging.getLogger("radicale").setLevel(logging.WARNING)

        parser = configparser.ConfigParser()
        parser.read(CONFIG)
        host = parser["server"]["hosts"].rsplit(":", 1)[0]
        port = settings.DEMO_CALDAV_PORT
        users_file = Path(settings.BASE_DIR) / parser["auth"]["htpasswd_filename"]
        users_file.parent.mkdir(parents=True, exist_ok=True)
        agents = list(Agent.objects.filter(is_active=True).select_related("user"))
        names = [SERVICE_USER, *(agent.user.username for agent in agents)]
        users_file.write_text("".join(f"{name}:{PASSWORD}\n" for name in names))

        # Run Radicale here for a moment to make the calendars; `make run` then serves the same folder.
        configuration = radicale.config.load([(str(CONFIG), False)])
        try:
            server = make_server(host, port, radicale.Application(configuration), handler_class=_Quiet)
        except OSError as error:
            raise CommandError(
                f"The demo CalDAV server cannot use port {port} on {host} ({error.strerror}): "
                "free it or set DEMO_CALDAV_PORT to another port (e.g. make run DEMO_CALDAV_PORT=5233)."
            ) from None

        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://{host}:{port}/"
        try:
            connection = services.add_connection(
                name="Demo Radicale",
                kind="caldav",
                url=url,
                username=SERVICE_USER,
                secret=PASSWORD,
                options={"calendar_home": "/{user}/"},
            )
            provider = services.provider_for(connection)
            for agent in agents:
                mailbox = agent.mailbox  # calendar home: the part before the @
                try:
                    provider.find_calendar(mailbox, "helpdesk")
                except ProviderError:
                    provider.make_calendar(mailbox, "helpdesk")
                if not agent.import_external:
                    agent.import_external = True
                    agent.save(update_fields=["import_external"])
                agent_calendar = services.connect_agent(agent, connection=connection, calendar="helpdesk")
                services.queue_existing_appointments(agent_calendar, since=timezone.now() - timedelta(days=7))
        except ProviderError as error:
            raise CommandError(f"Could not set up the demo calendars: {error}") from error
        finally:
            server.shutdown()
            server.server_close()
        from integrations.tasks import pull_agent_calendar

        calendars = list(AgentCalendar.objects.filter(connection__name="Demo Radicale").values_list("pk", flat=True))
        for pk in calendars:  # the worker runs these first thing when `make run` starts it
            pull_agent_calendar.delay(pk)
        count = len(calendars)
        self.stdout.write(f"CalDAV (Radicale): {url}  ({count} technicians connected; the first sync runs on start)")
        if agents:
            first = agents[0].mailbox.split("@", 1)[0]
            self.stdout.write(f"  e.g. {url}{first}/helpdesk/  (user {first}, password {PASSWORD})")
