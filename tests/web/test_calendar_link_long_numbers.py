"""Review finding 8: a calendar link whose `days`, `slot` or `free` is a whole number of more than
4,300 digits gave a 500 (Python 3.11's int() refuses such text: "Exceeds the limit (4300 digits)",
the CVE-2020-10735 guard). It is a number out of range like any other: said on the page and
brought into range as "999" is, and the calendar opens."""

from html import unescape

import pytest

from tests.web.test_calendar_links_say_what_they_ignore import GROUP, warnings_of
from tests.web.test_pages_calendars import config_of

LONG = "9" * 5000


@pytest.mark.parametrize(
    ("name", "said", "key", "shown"),
    [
        ("days", "is not from 1 to 31, so the calendar shows 31", "days", 31),
        ("days", "is not from 1 to 31, so the calendar shows 1", "days", 1),
        ("slot", "is not from 5 to 60, so the calendar shows 60", "slotMinutes", 60),
        ("free", "is not from 0 to 480, so the calendar shows 480", "freeMinutes", 480),
    ],
)
def test_a_link_number_of_thousands_of_digits_is_said_and_replaced(
    page_client, coordinator, alice, name, said, key, shown
):
    value = "-" + LONG if shown == 1 else LONG
    response = page_client(coordinator).get(GROUP, {name: value})

    assert response.status_code == 200
    [warning] = warnings_of(response)
    assert f"The link's {name} \"" in warning and said in warning
    assert len(warning) < 300  # the value is quoted shortened, not in full
    assert config_of(response)[key] == shown
    assert said in unescape(response.content.decode())


@pytest.mark.parametrize("value", ["--5", "---9", "+-5", "²", "٣"])
@pytest.mark.parametrize("name", ["days", "slot", "free"])
def test_a_link_number_with_several_signs_or_other_digits_is_said_not_a_500(
    page_client, coordinator, alice, name, value
):
    """Review 7 F6: "--5" passed the check (lstrip("-")) and int() refused it, a 500; "²" likewise;
    "٣" was read as 3. Only ASCII digits with one sign are a whole number of the link."""
    response = page_client(coordinator).get(GROUP, {name: value})

    assert response.status_code == 200
    [warning] = warnings_of(response)
    assert "is not a whole number" in warning
