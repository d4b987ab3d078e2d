import sqlite3

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def use_sqlite_own_variable_limit(sender, connection, **kwargs) -> None:
    """Let bulk inserts (an import's appointments, links, log entries) go in as few statements as
    this SQLite allows: Django assumes 999 bound values per statement (the limit of SQLite before
    3.32), where SQLite reports its own (SQLITE_LIMIT_VARIABLE_NUMBER, 32766 or more since 3.32)."""
    if connection.vendor != "sqlite":
        return
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    connection.features.max_query_params = max(999, min(limit, 32766))


def check_kept_properties(app_configs, **kwargs) -> list:
    """System check (manage.py check, every web start): each name in SYNC_KEPT_EXTENDED_PROPERTIES is
    one the helpdesk can keep (`providers.base.kept_properties`: Graph's id form, a type Graph and
    EWS share, no owned property) and whose Exchange field exchangelib builds
    (`exchange.mapping.kept_fields`), so a bad one stops the start instead of every Microsoft 365 and
    Exchange sync. The worker runs no check: the providers refuse the value at their first read."""
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from integrations.providers.exchange.mapping import kept_fields

    try:
        kept_fields()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="integrations.E001")]
    return []


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Calendar integrations"

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import pre_delete

        from calendars.signals import appointment_changed
        from integrations import services
        from integrations.models import AgentCalendar

        appointment_changed.connect(services.note_appointment_change, dispatch_uid="integrations.sync")
        pre_delete.connect(services.keep_sync_log, sender=AgentCalendar, dispatch_uid="integrations.keep_sync_log")
        connection_created.connect(use_sqlite_own_variable_limit, dispatch_uid="integrations.sqlite_limit")
        checks.register(check_kept_properties)
