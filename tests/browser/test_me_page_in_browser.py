"""The phone link on /me/ in a real browser (trial F10): renewing or revoking a working link
breaks every phone subscribed with it, so both ask first and say so, as Google Calendar's
"Reset secret address" does; a "no" changes nothing."""

import pytest

from agents import services as agent_services
from tests.browser.conftest import answer_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("button", ["Renew link", "Revoke link"])
def test_renewing_or_revoking_the_phone_link_asks_first_saying_what_stops(
    open_page, log_in, alice, button, no_native_dialogs
):
    token = agent_services.renew_feed_token(alice)
    alice.refresh_from_db()
    stored = alice.feed_token
    page = log_in(open_page(), "alice")
    page.goto("/me/")
    native = no_native_dialogs(page)
    page.get_by_role("button", name=button).click()
    question = answer_in_page(page, accept=False)
    assert "stop updating" in question, question
    alice.refresh_from_db()
    assert alice.feed_token == stored
    assert page.request.get(f"/feeds/{token}.ics").status == 200

    page.get_by_role("button", name=button).click()
    with page.expect_navigation():
        answer_in_page(page, accept=True)
    page.wait_for_load_state("networkidle")
    assert native == []
    alice.refresh_from_db()
    assert alice.feed_token != stored
    assert page.request.get(f"/feeds/{token}.ics").status == 404


def test_making_the_first_link_asks_nothing(open_page, log_in, alice, no_native_dialogs):
    """No link yet: nothing can break, so "Make my link" acts at once."""
    page = log_in(open_page(), "alice")
    page.goto("/me/")
    native = no_native_dialogs(page)
    page.get_by_role("button", name="Make my link").click()
    page.wait_for_selector(".feed-qr svg")
    assert native == []
    assert page.locator("dialog.ask-dialog").count() == 0
