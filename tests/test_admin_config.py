"""What a process imports at start-up: the admin's modules are read by the pages and by `check`, not
by a worker's start-up; a CalDAV or Google sync never loads exchangelib, nor the .ics writer."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _in_a_new_process(code: str) -> str:
    """Run `code` after django.setup() in a fresh interpreter (nothing imported by the tests)."""
    script = "import django, sys\ndjango.setup()\n" + code
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_start_up_does_not_import_the_admin_modules():
    # Django's AdminConfig imports every app's admin.py in django.setup(); a sync command never uses them.
    assert _in_a_new_process("print('integrations.admin' in sys.modules)") == "False"


def test_loading_the_urls_registers_the_admin_pages():
    code = "import helpdesk.urls\nfrom django.contrib import admin\nfrom integrations.models import Connection\n"
    code += "print(admin.site.is_registered(Connection))"
    assert _in_a_new_process(code) == "True"


def test_admin_checks_read_the_admin_modules_first():
    # Without the URLs loaded, `manage.py check` still checks every ModelAdmin (check_admin_app).
    code = "from django.core import checks\nchecks.run_checks(tags=[checks.Tags.admin])\n"
    code += "from django.contrib import admin\nfrom integrations.models import Connection\n"
    code += "print(admin.site.is_registered(Connection))"
    assert _in_a_new_process(code) == "True"


def test_a_caldav_or_google_sync_does_not_import_exchangelib():
    # exchangelib's package is about 20 MiB; only an Exchange connection needs it (issue 14: peak memory).
    code = "import integrations.sync.engine, integrations.providers.caldav, integrations.providers.google\n"
    code += "import integrations.providers.graph, integrations.tasks\nprint('exchangelib' in sys.modules)"
    assert _in_a_new_process(code) == "False"


def test_a_sync_does_not_import_the_ics_writer_of_the_feed_and_e_mails():
    # calendars.ical writes the phone feed and the e-mails' attachments; a sync writes neither
    # (issue 14: every sync's start-up). It is read when an e-mail or the feed is built.
    code = "import integrations.sync.engine, integrations.providers.caldav, integrations.providers.google\n"
    code += "import integrations.providers.graph, integrations.tasks, calendars.tasks\n"
    code += "print('calendars.ical' in sys.modules)"
    assert _in_a_new_process(code) == "False"
