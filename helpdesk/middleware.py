from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class AgentTimeZoneMiddleware:
    """Pages show and read times on the signed-in technician's wall clock; others get the site's zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        agent = getattr(request.user, "agent", None) if request.user.is_authenticated else None
        if agent is not None:
            timezone.activate(agent.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
