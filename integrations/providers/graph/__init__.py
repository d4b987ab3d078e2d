"""Microsoft 365 calendars over Microsoft Graph v1.0, with msal (client credentials) and requests.

client.py holds the provider, mapping.py turns Graph events into RemoteEvents and back, errors.py
says Graph's and the identity platform's errors in our terms.
"""

from .client import GraphProvider, GraphSettings, authorize_url, graph_provider_from_settings
from .mapping import MARKER_PROPERTY_ID

__all__ = ["MARKER_PROPERTY_ID", "GraphProvider", "GraphSettings", "authorize_url", "graph_provider_from_settings"]
