"""The REST API under /api/: resources, the OpenAPI schema and browsable docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from agents.api import AgentViewSet, TeamViewSet
from calendars.api import AppointmentViewSet
from calendars.api_availability import AvailabilityView, WorkingHoursView
from tickets.api import ActionViewSet, RequestViewSet


class HelpdeskRouter(DefaultRouter):
    """A router whose root (`/api/`) also lists the endpoints that are not viewsets' lists, so a
    client finds every collection it can read from the root, not only from the schema."""

    more_in_root = {
        "appointments/calendar": "appointment-calendar",
        "availability": "availability",
        "working-hours": "working-hours",
        "schema": "schema",
        "docs": "docs",
    }

    def get_api_root_view(self, api_urls=None):
        list_name = self.routes[0].name
        listed = {prefix: list_name.format(basename=basename) for prefix, _viewset, basename in self.registry}
        return self.APIRootView.as_view(api_root_dict={**listed, **self.more_in_root})


router = HelpdeskRouter()
router.register("agents", AgentViewSet, basename="agent")
router.register("teams", TeamViewSet, basename="team")
router.register("requests", RequestViewSet, basename="request")
router.register("appointments", AppointmentViewSet, basename="appointment")

actions = ActionViewSet.as_view({"get": "list", "post": "create"})
action_detail = ActionViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
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
