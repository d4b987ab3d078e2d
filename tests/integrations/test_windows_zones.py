"""Fault 2 of review 2: IANA zones (current names and aliases) written to Microsoft calendars under
their Windows names, never silently as "UTC". Right values: icalendar's Windows -> Olson table
(an implementation independent of exchangelib's, which the helpdesk uses) and zoneinfo's offsets."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from integrations.providers.base import ProviderError, RemoteEvent
from integrations.providers.zones import windows_zone_for
from tests.integrations.exchange.conftest import connection_settings, ews, provider, sleeps  # noqa: F401 (fixtures)
from tests.integrations.graph.conftest import alice_graph, graph, graph_connection  # noqa: F401 (fixtures)

KYIV = ZoneInfo("Europe/Kyiv")
# A weekly Monday 09:00 Kyiv series from winter (UTC+2) into summer (UTC+3).
FIRST = datetime(2026, 12, 7, 9, 0, tzinfo=KYIV)
RULE = "FREQ=WEEKLY;BYDAY=MO;COUNT=30"


def _offsets(zone: ZoneInfo, year: int) -> list[timedelta | None]:
    first = datetime(year, 1, 1, tzinfo=UTC)
    return [(first + timedelta(hours=6 * step)).astimezone(zone).utcoffset() for step in range(4 * 366)]


def test_every_iana_zone_with_a_windows_counterpart_maps_to_one_with_its_offsets_over_a_year():
    year = datetime.now(UTC).year
    refused, wrong = [], []
    for name in sorted(available_timezones() - {"localtime", "Factory"}):
        try:
            windows = windows_zone_for(name)
        except ProviderError:
            refused.append(name)
            continue
        back = ZoneInfo("UTC") if windows == "UTC" else ZoneInfo(WINDOWS_TO_OLSON[windows])
        if _offsets(ZoneInfo(name), year) != _offsets(back, year):
            wrong.append((name, windows))
    assert wrong == []
    # A refusal only where no Windows zone (as icalendar reads them) has the zone's offsets.
    windows_offsets = {tuple(_offsets(ZoneInfo(iana), year)) for iana in WINDOWS_TO_OLSON.values()}
    assert [name for name in refused if tuple(_offsets(ZoneInfo(name), year)) in windows_offsets] == []


@pytest.mark.parametrize(
    ("iana", "windows"),
    [
        # CLDR windowsZones.xml: <mapZone other="FLE Standard Time" territory="UA" type="Europe/Kiev ..."/>
        ("Europe/Kyiv", "FLE Standard Time"),
        ("Europe/Kiev", "FLE Standard Time"),
        ("Asia/Kolkata", "India Standard Time"),
        ("Asia/Calcutta", "India Standard Time"),
        ("US/Eastern", "Eastern Standard Time"),
        ("America/Argentina/Buenos_Aires", "Argentina Standard Time"),
        ("Asia/Kathmandu", "Nepal Standard Time"),
        ("UTC", "UTC"),
    ],
)
def test_current_names_and_their_aliases_map_to_the_cldr_windows_zone(iana, windows):
    assert windows_zone_for(iana) == windows


def test_a_zone_no_windows_zone_can_hold_is_refused_by_name():
    # Antarctica/Troll: UTC+0 in winter, UTC+2 in summer; no Windows zone has that.
    with pytest.raises(ProviderError, match="Antarctica/Troll"):
        windows_zone_for("Antarctica/Troll")


def _kyiv_series() -> RemoteEvent:
    return RemoteEvent(
        start=FIRST, end=FIRST + timedelta(hours=1), subject="Kyiv stand-up", time_zone="Europe/Kyiv", rrules=[RULE]
    )


def _hours_in_kyiv(starts: list[datetime]) -> set[tuple[int, int]]:
    return {(start.astimezone(KYIV).hour, start.astimezone(KYIV).minute) for start in starts}


@pytest.mark.django_db
def test_a_kyiv_series_pushed_to_microsoft_365_keeps_9_in_kyiv_summer_and_winter(alice_graph, graph):  # noqa: F811
    from integrations.providers import registry

    graph_provider = registry.build(alice_graph.connection)
    graph_provider.create(graph_provider.find_calendar("alice@example.com"), _kyiv_series())

    shown = graph.calendar_view("alice@example.com", FIRST - timedelta(days=1), FIRST + timedelta(days=220))
    starts = [entry["_start"] for entry in shown]
    assert len(starts) == 30
    assert {start.astimezone(KYIV).utcoffset() for start in starts} == {timedelta(hours=2), timedelta(hours=3)}
    assert _hours_in_kyiv(starts) == {(9, 0)}


def test_a_kyiv_series_pushed_to_exchange_keeps_9_in_kyiv_summer_and_winter(ews, provider):  # noqa: F811
    calendar = provider.find_calendar("alice@example.com")
    provider.create(calendar, _kyiv_series())

    shown = ews.calendar_view("alice@example.com", FIRST - timedelta(days=1), FIRST + timedelta(days=220))
    starts = [entry.start for entry in shown]
    assert len(starts) == 30
    assert {start.astimezone(KYIV).utcoffset() for start in starts} == {timedelta(hours=2), timedelta(hours=3)}
    assert _hours_in_kyiv(starts) == {(9, 0)}
