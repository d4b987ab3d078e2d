"""Log lines of `make run` (trial report): kombu's "No hostname was supplied" warning on every
worker start, Radicale's info lines burying the helpdesk's, and timestamps on two clocks (Celery
and Django on TIME_ZONE without a zone, Radicale and honcho on the machine's)."""

import logging
import logging.config
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
UTC_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+0000\] \[\d+\] \[(\w+)\] ")


def test_log_lines_show_utc_with_the_zone_whatever_the_site_zone():
    """A record made at 2026-03-29 01:30 UTC (03:30 in Amsterdam, the site's zone, just after
    the clocks went forward) reads 01:30 +0000."""
    formatter = logging.config.DictConfigurator(settings.LOGGING).configure_formatter(
        settings.LOGGING["formatters"]["utc"]
    )
    record = logging.LogRecord("integrations.tasks", logging.WARNING, __file__, 1, "Pull failed", None, None)
    record.created = datetime(2026, 3, 29, 1, 30, tzinfo=UTC).timestamp()
    assert time.strftime("%H", time.localtime(record.created)) == "03"  # the process is on Amsterdam time
    line = formatter.format(record)
    assert UTC_STAMP.match(line).group(1) == "2026-03-29 01:30:00"
    assert line.endswith("[WARNING] integrations.tasks: Pull failed")


def test_the_default_broker_url_names_a_host_so_kombu_does_not_warn(tmp_path):
    """The settings of a process with no broker and no Redis configured (`make run`'s), read in a
    process of their own: the test run itself may have REDIS_URL set (CI)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    script = (
        "import logging, django; from django.conf import settings; from kombu import Connection\n"
        "django.setup(); import helpdesk.celery; records = []\n"
        "handler = logging.Handler(); handler.emit = records.append\n"
        "logging.getLogger('kombu').addHandler(handler); logging.getLogger('kombu').setLevel(logging.WARNING)\n"
        "options = settings.CELERY_BROKER_TRANSPORT_OPTIONS\n"
        "info = Connection(settings.CELERY_BROKER_URL, transport_options=options).info()\n"
        "print(info['transport'], [r.getMessage() for r in records])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "helpdesk-filesystem []"


def test_worker_logs_in_utc_with_the_zone_and_without_the_hostname_warning(tmp_path):
    """A real worker (`celery -A helpdesk worker`, as the Procfile starts it) until it is ready."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/db", "CELERY_BROKER_URL": "memory://localhost/"}
    command = [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "-P", "solo", "--loglevel", "INFO"]
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in worker.stdout:
            lines.append(line.rstrip("\n"))
            if "ready." in line:
                break
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    now = datetime.now(UTC)
    stamped = [UTC_STAMP.match(line) for line in lines if re.match(r"\[\d", line)]
    assert stamped and all(stamped), lines
    for match in stamped:
        when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert abs((now - when).total_seconds()) < 120, (match.group(0), now)
    assert not any("No hostname was supplied" in line for line in lines), lines


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_radicale_logs_no_info_lines_and_in_utc(tmp_path):
    """Radicale as `make run` starts it (the Procfile's command, TZ=UTC from the Makefile) with the
    demo's configuration: once that configuration is read, no info lines (about 90 at start
    before, and 3 per request); its times are UTC with the zone shown."""
    (tmp_path / "var" / "radicale").mkdir(parents=True)
    (tmp_path / "var" / "radicale" / "users").write_text("alice:demo1234\n")
    port = _free_port()
    command = [sys.executable, "-m", "radicale", "--config", str(ROOT / "deploy" / "radicale.conf")]
    command += ["--server-hosts", f"127.0.0.1:{port}"]
    env = {**os.environ, "TZ": "UTC"}
    server = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/.web/", timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    lines = output.splitlines()
    # Radicale itself says two lines at info before it reads any configuration.
    configured = next(i for i, line in enumerate(lines) if "Logging level set to: 'WARNING'" in line)
    assert [line for line in lines[configured:] if "[INFO]" in line] == [], output
    assert all(" +0000] " in line for line in lines if line.startswith("[")), output
