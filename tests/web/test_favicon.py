"""The site's icon (trial report: every page logged a 404 for /favicon.ico in the console)."""

import re

import pytest
from django.contrib.auth.models import User


@pytest.fixture(autouse=True)
def static_files_served(settings):
    """WhiteNoise serves static files from the finders, as with `make run` (no collectstatic)."""
    settings.WHITENOISE_USE_FINDERS = True


def test_pages_link_an_icon_that_answers(client):
    page = client.get("/login/").content.decode()
    (href,) = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    icon = client.get(href)
    assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])


@pytest.mark.django_db
def test_favicon_ico_asked_for_by_pages_without_a_link_leads_to_the_icon(client):
    """Admin and API docs pages name no icon; browsers then ask /favicon.ico."""
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    assert client.get("/admin/").status_code == 200
    answer = client.get("/favicon.ico", follow=True)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("image/svg+xml")
