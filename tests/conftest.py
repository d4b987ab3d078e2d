import os

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import pytest
from django.contrib.auth.models import Permission, User

from agents.models import Agent, Team
from calendars.models import CalendarSettings


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks run in-process unless a test starts a real worker."""
    from helpdesk.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are made in nearly every test: a cheap hash keeps the suite quick (not for production)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_agent(db):
    """make_agent("alice", time_zone="Europe/London") -> Agent with a user of that name."""

    def make(username: str, *, time_zone: str = "Europe/Amsterdam", team: str | None = None, **fields) -> Agent:
        user = User.objects.create_user(
            username, email=f"{username}@example.com", password="pw", first_name=username.title()
        )
        agent = Agent.objects.create(user=user, time_zone=time_zone, **fields)
        if team:
            Team.objects.get_or_create(name=team)[0].members.add(agent)
        return agent

    return make


@pytest.fixture
def alice(make_agent) -> Agent:
    return make_agent("alice")


@pytest.fixture
def bob(make_agent) -> Agent:
    return make_agent("bob", time_zone="Europe/London")


@pytest.fixture
def coordinator(db) -> User:
    user = User.objects.create_user("coordinator", email="coordinator@example.com", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def calendar_settings(db) -> CalendarSettings:
    return CalendarSettings.load()
