"""The project's URLs plus an API endpoint that fails, for the 500 answer under /api/."""

from django.urls import path
from rest_framework.views import APIView

from helpdesk.urls import urlpatterns as project_urlpatterns


class Crash(APIView):
    def get(self, request):
        raise RuntimeError("a fault in a view")


urlpatterns = [path("api/crash/", Crash.as_view()), *project_urlpatterns]
