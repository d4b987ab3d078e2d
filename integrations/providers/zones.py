"""Windows zone names <-> IANA zones, shared by the connectors that speak Microsoft's names (Exchange
over EWS, Microsoft 365 over Graph): CLDR's windowsZones table, as exchangelib ships it."""

from __future__ import annotations

from exchangelib.winzone import CLDR_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP


def windows_zone_for(iana: str) -> str:
    """The Windows zone id ("W. Europe Standard Time") Exchange and Graph use for an IANA zone
    ("Europe/Amsterdam"); "UTC" for a zone with no Windows counterpart."""
    entry = CLDR_TO_MS_TIMEZONE_MAP.get(iana)
    return entry[0] if entry else "UTC"


def iana_zone_for(windows: str) -> str:
    """The IANA zone for a Windows zone id; "UTC" for ids the table does not know."""
    return MS_TIMEZONE_TO_IANA_MAP.get(windows, "UTC")
