"""Which provider serves which kind of connection. A connector registers its builder here."""

from __future__ import annotations

from collections.abc import Callable

from integrations.providers.base import CalendarProvider, ConnectionProblem

Builder = Callable[..., CalendarProvider]
_builders: dict[str, Builder] = {}


def register(kind: str, builder: Builder) -> None:
    _builders[kind] = builder


def build(connection, **overrides) -> CalendarProvider:
    if connection.kind not in _builders:
        raise ConnectionProblem(f"No connector for {connection.get_kind_display()} is installed yet.")
    return _builders[connection.kind](connection, **overrides)


def _caldav(connection, **overrides) -> CalendarProvider:
    from integrations.providers.caldav import CalDAVProvider

    options = connection.options or {}
    return CalDAVProvider(
        overrides.get("url", connection.server_url),
        connection.username,
        connection.get_secret(),
        calendar_home=options.get("calendar_home", ""),
        timeout=float(overrides.get("timeout", options.get("timeout", 15))),
    )


def _ews(connection, **overrides) -> CalendarProvider:
    from integrations.providers.exchange import exchange_provider_from_settings

    options = connection.options or {}
    settings = {
        "server_url": overrides.get("url", connection.server_url),
        "username": connection.username,
        "password": connection.get_secret(),
        "version": connection.option("version"),
        "auth_type": connection.option("auth_type"),
        "access_type": connection.option("access_type"),
        "timeout": int(overrides.get("timeout", options.get("timeout", 60))),
    }
    # The engine's retry policy wraps every call; the provider must not retry inside it as well.
    return exchange_provider_from_settings(settings, attempts=int(overrides.get("attempts", 1)))


def _graph(connection, **overrides) -> CalendarProvider:
    from integrations.providers.graph import graph_provider_from_settings

    options = connection.options or {}
    settings = {
        "tenant_id": options.get("tenant_id", ""),
        "client_id": connection.username,
        "secret": connection.get_secret(),
        "authority": options.get("authority", ""),
        "base_url": overrides.get("url", connection.server_url),
        "ca_bundle": options.get("ca_bundle", ""),
        "timeout": float(overrides.get("timeout", options.get("timeout", 30))),
        "delegated": bool(options.get("delegated", False)),
    }
    grants = None
    if settings["delegated"]:
        from integrations.services import DelegatedGrants  # the ORM side of the technicians' sign-ins

        grants = DelegatedGrants(connection)
    return graph_provider_from_settings(settings, grants=grants)


register("caldav", _caldav)
register("graph", _graph)
register("ews", _ews)


def _google(connection, **overrides) -> CalendarProvider:
    """A Google connection: `auth` service_account (secret = the JSON key) or oauth (username = client
    id, secret = client secret, each technician's refresh token on their AgentCalendar)."""
    import json

    from integrations.providers.google import (
        GOOGLE_API_ENDPOINT,
        GOOGLE_BATCH_URI,
        GOOGLE_TOKEN_URI,
        google_provider_from_settings,
    )
    from integrations.sync import limits

    options = connection.options or {}
    settings = {
        "api_endpoint": overrides.get("url")
        or options.get("api_endpoint")
        or connection.server_url
        or GOOGLE_API_ENDPOINT,
        "batch_uri": options.get("batch_uri") or GOOGLE_BATCH_URI,
        "token_uri": options.get("token_uri") or GOOGLE_TOKEN_URI,
        "timeout": int(overrides.get("timeout", options.get("timeout", 60))),
        # A series' exception walk stops where the engine would cut the series anyway.
        "max_exceptions": limits.occurrences_per_series(),
    }
    if connection.option("auth") == "oauth":
        settings |= {
            "client_id": connection.username,
            "client_secret": connection.get_secret(),
            "refresh_tokens": {
                calendar.mailbox_address.lower(): calendar.get_secret()
                for calendar in connection.agent_calendars.select_related("agent__user")
                if calendar.has_secret
            },
        }
    else:
        try:
            settings["service_account_info"] = json.loads(connection.get_secret() or "null")
        except ValueError as error:
            raise ConnectionProblem(
                "The service account key is not JSON: enter the downloaded key file again."
            ) from error
        if settings["service_account_info"] is None:
            raise ConnectionProblem("Enter the service account's JSON key in the connection.")
    # The engine's retry policy wraps every call; the provider must not retry inside it as well.
    return google_provider_from_settings(settings, attempts=int(overrides.get("attempts", 1)))


register("google", _google)
