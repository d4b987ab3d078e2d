from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from helpdesk.api_errors import as_json_error, is_api_request


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


class ApiErrorsAsJson:
    """Under /api/, Django's own error pages (a path nothing matches, a server error, their DEBUG
    variants) become JSON with the same status (helpdesk.api_errors.as_json_error): API clients
    parse every answer as JSON. First in MIDDLEWARE, so it sees what every other layer answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code >= 400 and is_api_request(request):
            return as_json_error(response)
        return response
