"""Google Calendar (Workspace with domain-wide delegation, or a technician's own sign-in) over the
Calendar API v3, with google-api-python-client and google-auth.

client.py holds the provider and its sign-in, mapping.py turns event resources into RemoteEvents
and back, errors.py says the client's errors in our terms.
"""

from .client import (
    GOOGLE_API_ENDPOINT,
    GOOGLE_BATCH_URI,
    GOOGLE_TOKEN_URI,
    GoogleProvider,
    GoogleSettings,
    check_service_account_info,
    google_provider_from_settings,
)
from .mapping import MARKER_KEY, event_id_for

__all__ = [
    "GOOGLE_API_ENDPOINT",
    "GOOGLE_BATCH_URI",
    "GOOGLE_TOKEN_URI",
    "MARKER_KEY",
    "GoogleProvider",
    "GoogleSettings",
    "check_service_account_info",
    "event_id_for",
    "google_provider_from_settings",
]
