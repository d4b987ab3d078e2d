"""The Celery app is loaded on first use (helpdesk/__init__.py), not with the package; a process
that queues a task still sends it with the project's configuration. Checked in a fresh process:
the tests' own fixture loads the app, which would hide a task bound to Celery's default app."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
import django
django.setup()
assert "helpdesk.celery" not in sys.modules, "the package loaded the Celery app"
from calendars.tasks import extend_recurring_appointments
from integrations.tasks import pull_agent_calendar
# Resolved now, before anything else loads the app: what `.delay()` here would use.
apps = [pull_agent_calendar.app, extend_recurring_appointments.app]
from django.conf import settings
print(*[app.main for app in apps], *[app.conf.broker_url == settings.CELERY_BROKER_URL for app in apps])
"""


def test_a_process_that_queues_tasks_sends_them_with_the_projects_configuration(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "DATABASE_URL": f"sqlite:///{tmp_path}/db"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["helpdesk", "helpdesk", "True", "True"]


def test_celery_finds_the_app_in_the_package():
    """`celery -A helpdesk` (Procfile) finds the configured app."""
    from celery.app.utils import find_app

    from helpdesk.celery import app

    assert find_app("helpdesk") is app
