"""The REST API under /api/: resources, the OpenAPI schema and browsable docs."""

from collections.abc import Iterator

from django.urls import NoReverseMatch, URLResolver, include, path, reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.response import Response
from rest_framework.reverse import reverse as drf_reverse
from rest_framework.routers import APIRootView, DefaultRouter

from agents.api import AgentViewSet, TeamViewSet
from calendars.api import AppointmentViewSet
from calendars.api_availability import AvailabilityView, WorkingHoursView
from helpdesk.api_common import KnownQueryParameters
from tickets.api import ActionViewSet, RequestViewSet


def _listable(patterns) -> Iterator[str]:
    """Names of the URL patterns (included ones too) a client can GET without filling in a path
    parameter: every collection and endpoint, not single items or format-suffix variants."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _listable(entry.url_patterns)
        elif entry.name and entry.name != "api-root" and not entry.pattern.regex.groups:
            yield entry.name


class ApiRootView(KnownQueryParameters, APIRootView):
    """The root (`/api/`, `/api/.json`): every endpoint of this URL conf that takes no path
    parameter, read from `urlpatterns` rather than a list kept by hand, keyed by its path below
    the root. An endpoint without a format-suffix form is listed by its plain URL."""

    def get(self, request, *args, **kwargs) -> Response:
        namespace = request.resolver_match.namespace
        root = reverse(f"{namespace}:api-root")
        found = {}
        for name in dict.fromkeys(_listable(urlpatterns)):
            try:
                url = drf_reverse(f"{namespace}:{name}", request=request, format=kwargs.get("format"))
            except NoReverseMatch:
                url = drf_reverse(f"{namespace}:{name}", request=request)
            found[reverse(f"{namespace}:{name}").removeprefix(root).strip("/")] = url
        return Response(found)


class HelpdeskRouter(DefaultRouter):
    APIRootView = ApiRootView


router = HelpdeskRouter()
router.register("agents", AgentViewSet, basename="agent")
router.register("teams", TeamViewSet, basename="team")
router.register("requests", RequestViewSet, basename="request")
router.register("appointments", AppointmentViewSet, basename="appointment")

# `detail` as the router sets it: a collection takes page parameters, one action only `format`.
actions = ActionViewSet.as_view({"get": "list", "post": "create"}, detail=False)
action_detail = ActionViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}, detail=True
)

app_name = "api"
urlpatterns = [
    path("requests/<int:request_pk>/actions/", actions, name="request-actions"),
    path("requests/<int:request_pk>/actions/<int:pk>/", action_detail, name="request-action-detail"),
    path("availability/", AvailabilityView.as_view(), name="availability"),
    path("working-hours/", WorkingHoursView.as_view(), name="working-hours"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
]
