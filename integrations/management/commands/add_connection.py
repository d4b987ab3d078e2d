import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations import services
from integrations.models import Connection, ExchangeAccess, ExchangeAuth, ExchangeVersion


class Command(BaseCommand):
    help = "Add (or change) a connection to an external calendar system. The secret comes from CONNECTION_SECRET."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Our --version is Exchange's, not Django's.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", default="caldav", choices=Connection.Kind.values)
        parser.add_argument(
            "--url",
            default="",
            help="Server address, e.g. https://cloud.example.com/remote.php/dav/ or, for Exchange, "
            "https://mail.example.com/EWS/Exchange.asmx",
        )
        parser.add_argument("--username", default="")
        parser.add_argument(
            "--calendar-home",
            default="",
            help='CalDAV: where technicians\' calendars live for a shared account, e.g. "/{user}/".',
        )
        exchange = parser.add_argument_group("Exchange (--kind ews)")
        exchange.add_argument("--version", dest="ews_version", choices=ExchangeVersion.values, help="Default 2016.")
        exchange.add_argument("--auth-type", choices=ExchangeAuth.values, help="Default ntlm.")
        exchange.add_argument(
            "--access-type",
            choices=ExchangeAccess.values,
            help="impersonation (the ApplicationImpersonation role; default) or delegate (rights on each calendar).",
        )
        graph = parser.add_argument_group("Microsoft 365 (--kind graph; --username is the client id)")
        graph.add_argument("--tenant-id", default="", help="Directory (tenant) ID of the app registration.")
        graph.add_argument("--client-id", default="", help="Application (client) ID; the secret is CONNECTION_SECRET.")
        graph.add_argument("--authority", default="", help="Default https://login.microsoftonline.com/<tenant>.")
        graph.add_argument(
            "--delegated", action="store_true", help="Technicians sign in themselves (delegated permission)."
        )
        graph.add_argument("--ca-bundle", default="", help="A CA file to trust instead of the system's (private PKI).")
        parser.add_argument("--test-mailbox", default="", help="A technician's mailbox the connection test opens.")
        google = parser.add_argument_group("Google (--kind google)")
        google.add_argument(
            "--service-account-file",
            default="",
            help="Workspace: the service account's JSON key file (stored encrypted; CONNECTION_SECRET may hold the "
            "JSON instead). Grant its client id domain-wide delegation for "
            "https://www.googleapis.com/auth/calendar.",
        )
        google.add_argument(
            "--oauth-client-id",
            default="",
            help="Consumer accounts: the OAuth client id; its secret comes from CONNECTION_SECRET. Each technician "
            'then connects on the "Connect my Google calendar" page.',
        )
        google.add_argument("--api-endpoint", default="", help="Default https://www.googleapis.com/calendar/v3/.")
        google.add_argument("--batch-uri", default="", help="Default https://www.googleapis.com/batch/calendar/v3.")
        google.add_argument("--token-uri", default="", help="Default https://oauth2.googleapis.com/token.")
        parser.add_argument("--no-test", action="store_true", help="Do not try the connection.")

    def handle(self, *args, name, kind, url, username, calendar_home, no_test, **options):
        secret = os.environ.get("CONNECTION_SECRET", "")
        extra = {"calendar_home": calendar_home} if calendar_home else {}
        exchange = {
            "version": options["ews_version"],
            "auth_type": options["auth_type"],
            "access_type": options["access_type"],
            "test_mailbox": options["test_mailbox"].lower(),
        }
        exchange = {key: value for key, value in exchange.items() if value}
        if kind == Connection.Kind.GRAPH and "test_mailbox" in exchange:
            extra["test_mailbox"] = exchange.pop("test_mailbox")
        if kind == Connection.Kind.GOOGLE:
            exchange.pop("test_mailbox", None)
        if exchange and kind != Connection.Kind.EWS:
            raise CommandError(f"--{', --'.join(k.replace('_', '-') for k in exchange)} only apply to --kind ews.")
        extra |= exchange
        graph = {
            "tenant_id": options["tenant_id"],
            "authority": options["authority"],
            "ca_bundle": options["ca_bundle"],
        }
        graph = {key: value for key, value in graph.items() if value}
        if options["delegated"]:
            graph["delegated"] = True
        if (graph or options["client_id"]) and kind != Connection.Kind.GRAPH:
            raise CommandError("--tenant-id, --client-id, --authority and --ca-bundle only apply to --kind graph.")
        if kind == Connection.Kind.GRAPH:
            username = options["client_id"] or username
            url = url or "https://graph.microsoft.com/v1.0"
        extra |= graph
        google = {
            "api_endpoint": options["api_endpoint"],
            "batch_uri": options["batch_uri"],
            "token_uri": options["token_uri"],
        }
        google = {key: value for key, value in google.items() if value}
        if options["oauth_client_id"]:
            google["auth"] = "oauth"
            username = options["oauth_client_id"]
        elif options["service_account_file"]:
            google["auth"] = "service_account"
            try:
                with open(options["service_account_file"], encoding="utf-8") as key_file:
                    secret = key_file.read()
            except OSError as error:
                raise CommandError(f"Cannot read the key file: {error}") from error
        if google and kind != Connection.Kind.GOOGLE:
            raise CommandError("The Google options only apply to --kind google.")
        if options["test_mailbox"] and kind == Connection.Kind.GOOGLE:
            google["test_mailbox"] = options["test_mailbox"].lower()
        extra |= google
        if kind != Connection.Kind.GOOGLE and not url:
            raise CommandError("--url is needed: the server's address.")
        try:
            connection = services.add_connection(
                name=name, kind=kind, url=url, username=username, secret=secret, options=extra
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"Connection {connection.name!r} saved ({connection.get_kind_display()}).")
        if not secret:
            self.stdout.write("No CONNECTION_SECRET given: no password stored.")
        if not no_test:
            # Recorded as admin's "Test connection" records it: the connection's page shows it.
            message = services.record_connection_test(connection)
            if not connection.last_test_ok:
                raise CommandError(f"Saved, but the connection does not work: {message}")
            self.stdout.write(message)
