"""Ids and colours are read in one place each (helpdesk.parsing), the same on pages, forms and the
API, and a bad one is refused by name: "#12345G is not a colour", '"abc" is not an id'.

What counts as a colour is HTML's "valid simple colour" (WHATWG HTML 2.4.6: "#" and six ASCII
hex digits), the value <input type="color"> writes; an id is a whole number in ASCII digits.
Python's own int() takes more (other scripts' digits, signs, underscores): those are the cases
an id must refuse."""

from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from calendars.models import CalendarSettings
from helpdesk.parsing import parse_id, parse_ids
from tickets import services
from tickets.models import Request

AMS = ZoneInfo("Europe/Amsterdam")
WEEK = {"start": "2026-03-02", "end": "2026-03-09"}


def id_refusal(value: str, name: str) -> str:
    return f'"{value}" is not an id: give {name} as whole numbers from 1.'


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "-3",
        "0",
        "1.0",
        "+5",
        "5_000",  # int() reads it as 5000
        "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit() and int() both take it as 3
        "9" * 20,  # past any 64-bit id
    ],
)
def test_a_value_that_is_not_an_id_is_refused_by_name(value):
    assert int("\u0663") == 3 and "\u0663".isdigit()  # what the pages' own check let through
    with pytest.raises(ValidationError) as error:
        parse_id(value, name="agent")
    assert error.value.messages == [id_refusal(value, "agent")]


def test_ids_are_read_with_spaces_around_and_empty_values_skipped():
    assert parse_ids([" 7 ", "", "12"], name="agent") == [7, 12]


def test_every_bad_id_in_a_list_is_named():
    with pytest.raises(ValidationError) as error:
        parse_ids(["1", "x", "-2"], name="agent")
    assert error.value.messages == [id_refusal("x", "agent"), id_refusal("-2", "agent")]


def test_the_appointment_list_refuses_a_bad_technician_id_by_name(api_client, alice):
    response = api_client(alice.user).get("/api/appointments/", {**WEEK, "agent": ["7", "abc"]})
    assert response.status_code == 400
    assert response.json()["agent"] == [id_refusal("abc", "agent")]


def test_availability_refuses_a_bad_technician_id_by_name(api_client, alice):
    response = api_client(alice.user).get("/api/availability/", {"agent": ["\u0663"]})
    assert response.status_code == 400
    assert id_refusal("\u0663", "agent") in str(response.json()["agent"])


def test_availability_refuses_a_bad_team_id_by_name(api_client, alice):
    response = api_client(alice.user).get("/api/availability/", {"team": "0"})
    assert response.status_code == 400
    assert response.json()["team"] == [id_refusal("0", "team")]


def test_the_group_calendar_says_which_technician_id_it_could_not_read_and_shows_the_rest(page_client, alice, bob):
    response = page_client(alice.user).get("/calendar/group/", {"agent": [str(bob.pk), "abc"]})
    assert response.status_code == 200
    assert id_refusal("abc", "agent") in unescape(response.content.decode())
    assert response.context["chosen"] == {bob.pk}


def test_booking_a_slot_with_a_bad_technician_id_says_it_and_books_nothing(page_client, coordinator, alice):
    ticket = services.create_request(summary="Printer", assigned_agents=[alice])
    start = datetime(2035, 3, 5, 10, tzinfo=AMS)
    response = page_client(coordinator).post(
        f"/requests/{ticket.pk}/book-slot/", {"start": start.isoformat(), "agent": ["x1"]}, follow=True
    )
    assert id_refusal("x1", "agent") in unescape(response.content.decode())
    assert Request.objects.get(pk=ticket.pk).planned_start is None


@pytest.mark.parametrize("value", ["#12345G", "12345a", "#1e88e", "#1e88e5\n", "red"])
def test_a_technician_colour_that_is_not_one_is_refused_by_name(alice, value):
    alice.colour = value
    with pytest.raises(ValidationError) as error:
        alice.full_clean()
    assert f"{value} is not a colour: write it as #rrggbb, for example #1e88e5." in error.value.message_dict["colour"]


def test_the_calendar_settings_refuse_a_colour_by_name(db):
    settings = CalendarSettings.load()
    settings.default_colour = "#12345G"
    with pytest.raises(ValidationError) as error:
        settings.full_clean()
    assert error.value.message_dict["default_colour"] == [
        "#12345G is not a colour: write it as #rrggbb, for example #1e88e5."
    ]


def test_the_admin_form_says_the_colour_it_refuses(client, admin_user, alice):
    client.force_login(admin_user)
    page = client.get(f"/admin/agents/agent/{alice.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(colour="#12345G", user=alice.user.pk)
    response = client.post(f"/admin/agents/agent/{alice.pk}/change/", data)
    assert "#12345G is not a colour" in unescape(response.content.decode())


def test_a_colour_as_the_colour_input_writes_it_is_taken(alice):
    alice.colour = "#1E88e5"
    alice.full_clean()
