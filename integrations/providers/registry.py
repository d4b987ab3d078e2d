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


register("caldav", _caldav)
