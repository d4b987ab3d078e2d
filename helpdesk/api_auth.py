"""API sign-in that answers in the technician's zone.

AgentTimeZoneMiddleware runs before DRF signs a token user in (DRF authenticates in the view),
so without this a token user's times came out in the site's zone while a session user's came
out in their own. The middleware deactivates the zone after the response, as for pages.
"""

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed


class AgentZoneTokenAuthentication(TokenAuthentication):
    """knox's token authentication; a signed-in technician's zone becomes the current zone."""

    def authenticate(self, request):
        # The other scheme of this product (/metrics takes Bearer): say which one the API takes
        # instead of knox's "credentials were not provided".
        scheme = get_authorization_header(request).split()[:1]
        if scheme and scheme[0].lower() == b"bearer":
            raise AuthenticationFailed("Send the API token as 'Authorization: Token <token>', not Bearer.")
        result = super().authenticate(request)
        if result is not None:
            agent = getattr(result[0], "agent", None)
            if agent is not None:
                timezone.activate(agent.zone)
        return result


class AgentZoneTokenScheme(KnoxTokenScheme):
    """The schema documents it as the knox token it is."""

    target_class = AgentZoneTokenAuthentication
