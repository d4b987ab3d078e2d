"""manage.py sets Django up with the cyclic garbage collector paused (issue 14: a short command's
start-up), and leaves it on afterwards, start-up's objects frozen out of later collections."""

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
