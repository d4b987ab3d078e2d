"""Trial fault 14: the Periodic tasks edit page in admin may run django_celery_beat's inline
script, by its hash (CSP Level 3 hash-source, computed here with hashlib from the served page),
while every other page keeps script-src 'self' alone."""

import base64
import hashlib
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


def test_periodic_task_edit_page_allows_exactly_its_own_inline_script(admin_client_logged_in):
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(name="Pull calendars", task="integrations.tasks.pull_all", interval=every)

    for url in (
        f"/admin/django_celery_beat/periodictask/{task.pk}/change/",
        "/admin/django_celery_beat/periodictask/add/",
    ):
        response = admin_client_logged_in.get(url)
        script = re.search(r'<script id="periodic-task-overrides">(.*?)</script>', response.content.decode(), re.S)
        digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
        assert _script_src(response) == f"'self' 'sha256-{digest}'"


def test_other_admin_pages_keep_script_src_self_only(admin_client_logged_in):
    for url in ("/admin/", "/admin/django_celery_beat/periodictask/", "/admin/tickets/request/add/"):
        assert _script_src(admin_client_logged_in.get(url)) == "'self'"
