"""Allowing one library's inline script on one admin page under the Content-Security-Policy.

The site's policy runs no inline script (helpdesk.settings, CONTENT_SECURITY_POLICY). Some
admin pages of installed apps carry one (django_celery_beat's "periodic-task-overrides", which
shows a crontab in words). Rather than `'unsafe-inline'`, the page's own answer names that script
by its hash (CSP Level 3, "hash-source": base64 of the SHA-256 of the script element's text), so
only that exact script runs, and only on the page that serves it. The hash is taken from the
rendered page, so a new library version or another language needs no new constant."""

import base64
import hashlib
import re

from django.http import HttpResponse


def script_hash(text: str) -> str:
    """The CSP hash-source for an inline script's text (CSP Level 3, 2.3.1): "'sha256-<base64>'"."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def allow_inline_script(response: HttpResponse, script_id: str) -> HttpResponse:
    """Let the inline `<script id="script_id">` of `response` run: its hash joins this response's
    script-src (django-csp's per-response update, as its `csp_update` decorator sets it). A
    TemplateResponse is hashed once rendered; a response without that script is left alone.
    Returns `response`."""
    pattern = re.compile(rf"<script id=\"{re.escape(script_id)}\">(.*?)</script>", re.DOTALL)

    def add_hash(rendered: HttpResponse) -> None:
        found = pattern.search(rendered.content.decode(rendered.charset or "utf-8"))
        if found:
            rendered._csp_update = {"script-src": [script_hash(found.group(1))]}

    if getattr(response, "is_rendered", True):
        add_hash(response)
    else:
        response.add_post_render_callback(add_hash)
    return response
