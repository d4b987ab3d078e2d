"""Headless Debian chromium driven by Playwright against pytest-django's live server.

A failing test leaves a screenshot in test-artifacts/.
"""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Playwright's sync API keeps an event loop running in this thread; the ORM calls made by the
# test itself are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, live_server, request):
    """open_page(width=1280, height=900, **context_options) -> a page in a fresh context, on Amsterdam
    time like the site unless `timezone_id` names another browser zone; context_options go to
    Playwright's new_context (e.g. ignore_https_errors=True for a local peer server whose
    certificate comes from a test CA)."""
    contexts = []
    pages = []

    def make(width: int = 1280, height: int = 900, **context_options):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            base_url=live_server.url,
            **{"timezone_id": "Europe/Amsterdam", **context_options},
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        # Whatever the Content-Security-Policy blocks shows as a console error: collect it.
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and "Content Security Policy" in message.text
                and csp_violations.append(message.text)
            ),
        )
        pages.append(page)
        return page

    csp_violations: list[str] = []
    yield make
    assert csp_violations == [], "The Content-Security-Policy blocked something on the page"
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for index, page in enumerate(pages):
            page.screenshot(path=str(ARTIFACTS / f"{name}-{index}.png"), full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture
def log_in():
    def log_in(page, username: str, password: str = "pw"):
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return log_in


def answer_in_page(page, *, accept: bool) -> str:
    """Wait for the page's own question dialog (static/helpdesk.js, `helpdeskAsk`), answer it with
    its confirming button or Cancel, and return its text (heading, question and lines)."""
    dialog = page.locator("dialog.ask-dialog[open]")
    dialog.wait_for()
    text = dialog.inner_text()
    dialog.locator("form.buttons button").nth(0 if accept else 1).click()
    dialog.wait_for(state="detached")
    return text


@pytest.fixture
def no_native_dialogs():
    """watch(page) -> the list of questions the browser's own alert/confirm asked on that page
    (each dismissed); a page that asks in its own dialog leaves it empty."""

    def watch(page) -> list[str]:
        native: list[str] = []
        page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
        return native

    return watch
