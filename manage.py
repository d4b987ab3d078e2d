#!/usr/bin/env python
import gc
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    from django.core.management import execute_from_command_line

    # Left to Django: runserver sets up in its reloader (which survives code with errors), and
    # --settings and --pythonpath change what is set up (Django reads them before its setup).
    own_setup = sys.argv[1:2] != ["runserver"] and not any(
        arg.startswith(("--settings", "--pythonpath")) for arg in sys.argv[2:]
    )
    if own_setup:
        set_up_without_collections()
    execute_from_command_line(sys.argv)


def set_up_without_collections() -> None:
    """Django's setup (`django.setup()`, which `execute_from_command_line` runs first and then
    finds done) with Python's cyclic garbage collector paused, then on again with what start-up
    made frozen (`gc.freeze`: left out of later collections).

    Start-up imports about 1,300 modules and builds the app registry: several hundred thousand
    objects that live as long as the process. The collector walks each new one at least once
    and found about 2,000 of them garbage: 0.05-0.07 s of CPU of the 0.3-0.45 s a short command
    (`sync_calendars` run by cron or by hand) spends starting (issue 14's import bench), however
    high its thresholds. A settings module that cannot be read is left to Django, which says so."""
    import django
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - reading it is the check
    except Exception:  # Django's own execute reports it (its `help` lists the core commands)
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        django.setup()
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


if __name__ == "__main__":
    main()
