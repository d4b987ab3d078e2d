"""Every error under /api/ answers JSON (`{"detail": "..."}`), as DRF's own errors do.

Two ways an API error escapes DRF's JSON: an exception DRF's handler does not know (Django's
RequestDataTooBig, raised when a view reads a body over DATA_UPLOAD_MAX_MEMORY_SIZE), and answers
Django makes before or after any view (404 for a path nothing matches, 500, and their HTML debug
pages when DEBUG is on). `exception_handler` covers the first, inside DRF (so the answer is
negotiated like any other); helpdesk.middleware.ApiErrorsAsJson the second.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def too_big_message() -> str:
    """The 400 detail for a body over DATA_UPLOAD_MAX_MEMORY_SIZE (bytes), in MB (1024 * 1024)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
    return f"The request body is larger than the {limit:g} MB the API reads: send less in one request."


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own, plus a body too large (RequestDataTooBig) as a 400
    with a message; None (a server error) for anything else DRF does not know."""
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": too_big_message()}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


# What Django's own error pages say, for an API client.
MESSAGES = {
    400: "Bad request: the request could not be read.",
    403: "Forbidden.",
    404: "Not found: there is no API endpoint at this address (see /api/ for the list).",
    500: "Server error: the request failed on the server and was logged.",
}


def is_api_request(request: HttpRequest) -> bool:
    """The request is for a path under the API's root (`api:api-root`, with the script prefix)."""
    return request.path.startswith(reverse("api:api-root"))


def as_json_error(response: HttpResponse) -> HttpResponse:
    """An error answer (4xx, 5xx) that is not JSON (Django's HTML pages) as `{"detail": ...}` with
    the same status; answers already JSON, DRF's (whatever the renderer) and non-errors unchanged."""
    if response.status_code < 400 or isinstance(response, Response):
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    detail = MESSAGES.get(response.status_code, response.reason_phrase)
    answer = JsonResponse({"detail": detail}, status=response.status_code)
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            answer[header] = response[header]
    return answer
