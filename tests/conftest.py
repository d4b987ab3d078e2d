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
    max_examples=20,
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

# `make test` hands whole files to its two processes (pytest-xdist --dist loadfile), in collection
# order (--no-loadscope-reorder). xdist's own order (most tests first) left the files of one long
# test for the end (the admin crawl, 37 s; the sync state machines, 20-30 s each before the peers
# answered without Nagle's delay), one process running them while the other had finished. These
# files, longest first, are handed out before the rest (seconds of `pytest -n 0 --durations` on two
# loaded cores, December 2026: they vary by half with the load); the rest follow in xdist's order.
# A file missing here only loses its early start.
LONGEST_FILES = [
    "tests/web/test_api_schema.py",  # 62-200 s (schemathesis' coverage phase: ~2,500 appointment writes)
    "tests/integrations/test_entry_limits.py",  # 42 s
    "tests/integrations/test_fuzz_inbound.py",  # 41 s
    "tests/test_admin_crawl.py",  # 37 s, one test
    "tests/browser/test_calendar_in_browser.py",  # ~28 s
    "tests/browser/test_dispatch_in_browser.py",  # ~27 s
    "tests/integrations/test_times_corpus.py",  # 26 s
    "tests/browser/test_browser_zone_in_browser.py",  # ~22 s
    "tests/integrations/google/test_google_sync.py",  # 20 s
    "tests/integrations/graph/test_graph_sync.py",  # 19 s
    "tests/calendars/test_vtimezone_years.py",  # 19 s
    "tests/integrations/test_sync_state_machine.py",  # 12-18 s, one test (its faults wait 1-1.5 s each)
    "tests/integrations/google/test_google_shared.py",  # 17 s
    "tests/integrations/test_faults.py",  # 14 s
]


def pytest_collection_modifyitems(config, items):
    """Under xdist (PYTEST_XDIST_WORKER is set in its processes), order the files as LONGEST_FILES
    says, then by number of tests (most first), each file's tests kept in their order. Runs
    without xdist keep pytest's order."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    rank = {path: index for index, path in enumerate(LONGEST_FILES)}
    ordered = sorted(files, key=lambda path: (rank.get(path, len(rank)), -len(files[path])))
    items[:] = [item for path in ordered for item in files[path]]


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
