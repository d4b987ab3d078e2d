"""manage.py sets Django up with the cyclic garbage collector paused (issue 14: a short command's
start-up), and leaves it on afterwards, start-up's objects frozen out of later collections."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, settings: str = "helpdesk.settings") -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_command_runs_with_the_collector_on_and_start_up_frozen():
    # Python's gc module: isenabled() is automatic collection; get_freeze_count() the objects
    # gc.freeze() moved to the permanent generation (none unless something froze them).
    done = _manage("shell", "--no-imports", "-c", "import gc; print(gc.isenabled(), gc.get_freeze_count() > 10_000)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True True"


def test_settings_that_cannot_be_read_are_left_to_django():
    # Django's ManagementUtility: `help` with unreadable settings lists its core commands with this note.
    done = _manage("help", settings="no_such_settings_module")
    assert done.returncode == 0, done.stderr
    assert "settings are not properly configured" in done.stdout
    assert "No module named 'no_such_settings_module'" in done.stdout


def test_the_settings_option_still_chooses_the_settings():
    # Django reads --settings before its setup (ManagementUtility.execute: handle_default_options).
    done = _manage("help", "--settings=no_such_settings_module")
    assert done.returncode == 0, done.stderr
    assert "No module named 'no_such_settings_module'" in done.stdout


# What `manage.py sync_calendars` must not load before its first calendar (issue 14: a cron run's
# start-up), each with where it is loaded instead. Django's apps stay installed: their packages and
# models are read (django_celery_beat's models bring Celery itself), not these.
NOT_AT_A_SYNC_COMMANDS_START = {
    "icalendar": "a CalDAV connector, the feed and e-mail writers, a zone name's lookup (calendars.times)",
    "calendars.ical": "the feed and the e-mails' .ics attachments",
    "helpdesk.celery": "the project's Celery app: when a task is queued (helpdesk/__init__.py)",
    "helpdesk.broker": "the filesystem broker: with the Celery app",
    "helpdesk.urls": "the URLs: the pages, and system checks, which this command skips",
    "rest_framework.views": "the API",
    "drf_spectacular.openapi": "the API's schema",
    "agents.admin": "the admin pages (helpdesk.apps.AdminConfig)",
    "calendars.admin": "the admin pages",
    "integrations.admin": "the admin pages",
    "tickets.admin": "the admin pages",
    "caldav": "a CalDAV calendar's sync (integrations.providers.registry)",
    "niquests": "a CalDAV calendar's sync",
    "exchangelib": "an Exchange calendar's sync",
    "googleapiclient": "a Google calendar's sync",
    "msal": "a Microsoft 365 calendar's sync",
}

_SYNC_COMMANDS_START = """
import importlib.util, json, sys
import django
django.setup()
from django.core.management import ManagementUtility
# What execute_from_command_line loads for `manage.py sync_calendars` before the command's handle().
ManagementUtility(["manage.py", "sync_calendars"]).fetch_command("sync_calendars")
names = json.loads(sys.argv[1])
loaded = [name for name in names if name in sys.modules]
engine_loaded = "integrations.sync.engine" in sys.modules
# Each name is one that exists here (a misspelt one would never be loaded, and never fail).
missing = [name for name in names if importlib.util.find_spec(name) is None]
print(json.dumps({"loaded": loaded, "engine_loaded": engine_loaded, "missing": missing}))
"""


def test_a_sync_commands_start_does_not_load_what_only_some_paths_use():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"}
    done = subprocess.run(
        [sys.executable, "-c", _SYNC_COMMANDS_START, json.dumps(list(NOT_AT_A_SYNC_COMMANDS_START))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["engine_loaded"], "the command's module was not loaded: the check saw nothing"
    assert found["missing"] == []
    assert {name: NOT_AT_A_SYNC_COMMANDS_START[name] for name in found["loaded"]} == {}
