"""Exchange Server (2013/2016/2019/SE, on-premises or hybrid) over EWS, with exchangelib.

client.py holds the provider and its connection, mapping.py turns calendar items into RemoteEvents
and back (fields, time zones, recurrence), errors.py says exchangelib's errors in our terms.
"""

from .client import ExchangeProvider, ExchangeSettings, exchange_provider_from_settings
from .mapping import MARKER_FIELD, HelpdeskLinkId, iana_zone_for, windows_zone_for

__all__ = [
    "MARKER_FIELD",
    "ExchangeProvider",
    "ExchangeSettings",
    "HelpdeskLinkId",
    "exchange_provider_from_settings",
    "iana_zone_for",
    "windows_zone_for",
]
