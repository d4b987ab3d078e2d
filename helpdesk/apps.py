"""The admin's app configuration: its modules are read by the pages, not by every process."""

from django.contrib.admin import autodiscover
from django.contrib.admin.apps import SimpleAdminConfig
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks


class AdminConfig(SimpleAdminConfig):
    """Django's admin without autodiscovery at start-up (`SimpleAdminConfig`): each app's
    `admin.py` is imported when the URLs are (`helpdesk/urls.py` calls `autodiscover()`, as
    Django's admin documentation shows for this configuration) or when the admin's system checks
    run, not by a worker or a management command that never shows an admin page. Why: the admin
    modules and what they import (forms, widgets, filters) are about 3.5 MiB and a tenth of a
    second of every `sync_calendars` run (issue 14's import bench)."""

    def ready(self) -> None:
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(check_discovered_admin, checks.Tags.admin)


def check_discovered_admin(app_configs=None, **kwargs) -> list:
    """Django's `check_admin_app` over every app's admin registrations: they are read first, so
    `manage.py check` checks them whether or not the URLs were loaded before it."""
    autodiscover()
    return check_admin_app(app_configs, **kwargs)
