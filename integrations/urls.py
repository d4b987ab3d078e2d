from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("me/approvals/", views.approvals, name="approvals"),
    path("me/approvals/<int:pk>/", views.decide, name="decide"),
    path("me/sync/", views.sync_health, name="sync_health"),
    path("metrics", views.metrics, name="metrics"),
    path("integrations/graph/notify/", views.graph_notify, name="graph_notify"),
    path("me/sync/microsoft365/<int:connection_id>/connect/", views.microsoft365_connect, name="microsoft365_connect"),
    path("me/sync/microsoft365/callback/", views.microsoft365_callback, name="microsoft365_callback"),
    path("integrations/google/notify/", views.google_notify, name="google_notify"),
    path("me/google/", views.google_connect, name="google_connect"),
    path("me/google/done/", views.google_callback, name="google_callback"),
]
