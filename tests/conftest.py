import os

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import pytest
from django.contrib.auth.models import Permission, User
from hypothesis import HealthCheck, Phase, settings

from agents.models import Agent, Team
from calendars.models import CalendarSettings

# Property-based tests: "ci" (the default) is a small fixed budget that runs the same examples every
# time and reports a failure as found (no shrinking: a failing stateful run would take minutes to
# shrink); "long" explores many more, with fresh draws, and shrinks. HYPOTHESIS_PROFILE=long in the
# environment picks it (`HYPOTHESIS_PROFILE=long make test`), as `pytest --hypothesis-profile=long`
# does; the option wins over the variable. The long budgets of the fuzz campaign and the
# many-entries import follow the profile too (test_fuzz_inbound.py, test_entry_limits.py).
settings.register_profile(
    "ci",
    # Small enough to keep `make test` within its 15-minute budget; the long profile explores.
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "long",
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")


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


@pytest.fixture
def busy_technicians(db):
    """busy_technicians(count, start=None, busy=(10, 12), days=28) -> [Agent] made in bulk (names
    T000, T001, ..., the default hours and zone), all on one entry from `busy` hours (a pair
    of hours after `start`'s midnight) every day for `days` days from `start` (none without it)."""
    from datetime import timedelta

    from calendars.models import Appointment

    def make(count: int, start=None, busy: tuple[int, int] = (10, 12), days: int = 28) -> list[Agent]:
        users = User.objects.bulk_create([User(username=f"t{i:03}", first_name=f"T{i:03}") for i in range(count)])
        agents = Agent.objects.bulk_create([Agent(user=user, feed_token=f"token-{user.pk}") for user in users])
        if start is not None:
            entries = Appointment.objects.bulk_create(
                Appointment(
                    subject="Job",
                    start=start + timedelta(days=d, hours=busy[0]),
                    end=start + timedelta(days=d, hours=busy[1]),
                )
                for d in range(days)
            )
            Appointment.agents.through.objects.bulk_create(
                Appointment.agents.through(appointment=entry, agent=agent) for entry in entries for agent in agents
            )
        return agents

    return make
