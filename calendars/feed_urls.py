"""Subscription feed addresses: mounted at /feeds/ by helpdesk/urls.py."""

from django.urls import path, register_converter

from calendars import feeds


class FeedTokenConverter:
    """URL-safe token characters only, so a revoked token (see agents.services) never matches."""

    regex = r"[A-Za-z0-9_-]{16,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(FeedTokenConverter, "feedtoken")

app_name = "feeds"
urlpatterns = [
    path("<feedtoken:token>.ics", feeds.agent_feed, name="agent"),
    path("team/<int:team_id>/<feedtoken:token>.ics", feeds.team_feed, name="team"),
]
