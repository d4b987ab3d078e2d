"""Trial fault 14 and review 11: the Periodic tasks edit page in admin runs django_celery_beat's
crontab script under the site's strict policy. Review 11 found its hash computed from every rendered
page at request time; the script is now a static file, so every page, that one included, keeps
script-src 'self' alone (CSP Level 3: no hash-source, no 'unsafe-inline') and the page holds no
inline script that would run (JSON data blocks, type="application/json", are not run)."""

import re

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask


@pytest.fixture
def admin_client_logged_in(client, coordinator):
    coordinator.is_staff = coordinator.is_superuser = True
    coordinator.save()
    client.force_login(coordinator)
    return client


def _script_src(response) -> str:
    return re.search(r"script-src ([^;]*)", response["Content-Security-Policy"]).group(1)


def test_periodic_task_edit_page_runs_its_script_from_a_static_file_under_script_src_self(admin_client_logged_in):
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(name="Pull calendars", task="integrations.tasks.pull_all", interval=every)

    for url in (
        f"/admin/django_celery_beat/periodictask/{task.pk}/change/",
        "/admin/django_celery_beat/periodictask/add/",
    ):
        response = admin_client_logged_in.get(url)
        page = response.content.decode()
        assert _script_src(response) == "'self'"
        assert 'src="/static/integrations/periodic_task_form.js"' in page
        # Every <script> either loads a file or is a JSON data block: nothing inline runs.
        for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
            assert "src=" in attributes or 'type="application/json"' in attributes or not body.strip(), attributes


def test_other_admin_pages_keep_script_src_self_only(admin_client_logged_in):
    for url in ("/admin/", "/admin/django_celery_beat/periodictask/", "/admin/tickets/request/add/"):
        assert _script_src(admin_client_logged_in.get(url)) == "'self'"
