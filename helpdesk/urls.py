from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from helpdesk import views

# helpdesk.apps.AdminConfig leaves this to the URLs: only a process that serves pages reads admin.py.
admin.autodiscover()

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("agents.urls")),
    path("", include("integrations.urls")),
    path("feeds/", include("calendars.feed_urls")),
    path("api/", include("helpdesk.api_urls")),
    path("requests/", include("tickets.urls")),
    path("calendar/", include("calendars.urls")),
]
