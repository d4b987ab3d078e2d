"""Every admin change page of the demo data opens (manage.py seed_demo)."""

from io import StringIO

from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from calendars.models import Appointment


def test_every_admin_change_page_of_the_demo_data_answers_200(client, db):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    failures, opened = [], 0
    admin.autodiscover()  # what loading the URLs does (helpdesk.apps.AdminConfig)
    for model in admin.site._registry:
        meta = model._meta
        for pk in model.objects.values_list("pk", flat=True):
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk])
            response = client.get(url)
            opened += 1
            if response.status_code != 200:
                failures.append((url, response.status_code))
    assert failures == []
    # The crawl reached the pages that failed before: occurrences of a recurring series.
    assert Appointment.objects.filter(master__isnull=False).exists()
    assert opened > 100
