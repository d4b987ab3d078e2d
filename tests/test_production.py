"""The production profile: check --deploy clean, failed logins limited, a CSP on every page,
https links behind a TLS proxy."""

import os
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_has_no_warnings_with_debug_off():
    # A production environment, not this test run's (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE).
    test_only = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in test_only}
    env |= {
        "DEBUG": "off",
        "SECRET_KEY": "a-long-random-production-secret-Zq8xP2vL9rT4wY7mN3bK6jH1gF5dS0aQ",
        "ALLOWED_HOSTS": "helpdesk.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_failed_logins_are_limited(client, alice):
    for _ in range(5):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})

    response = client.post(reverse("login"), {"username": "alice", "password": "pw"})

    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session


def test_a_good_login_still_works_after_a_few_failures(client, alice):
    for _ in range(2):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})

    response = client.post(reverse("login"), {"username": "alice", "password": "pw"})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.user.pk)


def test_pages_carry_a_content_security_policy_without_inline_scripts(client, alice):
    client.force_login(alice.user)
    for url in ("/calendar/", "/requests/", reverse("agents:me"), "/api/docs/", "/admin/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]


def test_feed_links_are_https_behind_a_tls_proxy(client, alice, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client.force_login(alice.user)

    behind_proxy = {"x-forwarded-proto": "https", "host": "helpdesk.example.com"}
    settings.ALLOWED_HOSTS = ["helpdesk.example.com"]

    renewed = client.post(reverse("agents:renew-feed"), headers=behind_proxy)
    page = client.get(renewed["Location"], headers=behind_proxy).content.decode()

    assert "https://helpdesk.example.com/feeds/" in page
    assert "http://helpdesk.example.com/feeds/" not in page


def test_no_page_has_an_inline_script_or_handler():
    """What the CSP would block, caught before a browser does."""
    import re

    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"\son[a-z]+=\"", text), template
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text), template


def test_production_procfile_serves_with_gunicorn_and_runs_one_worker_and_one_beat():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile.production").read_text().splitlines() if line)

    assert set(lines) == {"web", "worker", "beat"}
    assert "gunicorn helpdesk.wsgi" in lines["web"] and "runserver" not in lines["web"]
    assert "worker" in lines["worker"] and "beat" in lines["beat"]
