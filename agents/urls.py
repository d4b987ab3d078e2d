from django.urls import path

from agents import views

app_name = "agents"
urlpatterns = [
    path("me/", views.me, name="me"),
    path("me/feed/renew/", views.renew_feed, name="renew-feed"),
    path("me/feed/revoke/", views.revoke_feed, name="revoke-feed"),
]
