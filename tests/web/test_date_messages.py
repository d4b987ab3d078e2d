"""Date and time refusals say what is wrong with the value given and what to do, where Django and
DRF said "Enter a valid date/time.", "Date has wrong format", "Select a valid choice" or only
"The end must be after the start." (trial: a helpdesk team could not tell what to fix)."""

from zoneinfo import ZoneInfo

from django.utils import timezone

from tickets.forms import FindSlotForm

AMS = ZoneInfo("Europe/Amsterdam")
NEW = "/calendar/appointments/new/"


def _page_errors(client, data: dict) -> str:
    response = client.post(NEW, {"subject": "Kept", "entries": "shared", **data})
    assert response.status_code == 200
    return response.content.decode()


def test_a_typed_day_that_does_not_exist_is_named_on_the_appointment_page(page_client, alice):
    page = _page_errors(
        page_client(alice.user), {"start": "2026-02-30T10:00", "end": "2026-03-02T11:00", "agents": [alice.pk]}
    )

    assert "2026-02-30T10:00 is no real date and time: check the day, the hour and the offset." in page
    assert "Enter a valid date/time." not in page


def test_an_all_day_entry_on_no_real_day_or_past_the_range_says_so(page_client, alice):
    client = page_client(alice.user)
    no_day = _page_errors(client, {"all_day": "on", "first_day": "2026-02-30", "agents": [alice.pk]})
    far = _page_errors(client, {"all_day": "on", "first_day": "9999-12-30", "agents": [alice.pk]})

    assert "2026-02-30 is no real date: check the day and the month (year-month-day, as 2035-03-05)." in no_day
    assert "9999-12-30 is outside the dates the helpdesk supports. Give a date between 1900 and 2199." in far


def test_a_series_zone_spelt_in_the_wrong_case_is_named_with_its_spelling(page_client, alice):
    page = _page_errors(
        page_client(alice.user),
        {
            "start": "2026-03-02T10:00",
            "end": "2026-03-02T11:00",
            "agents": [alice.pk],
            "repeat": "weekly",
            "time_zone": "europe/amsterdam",
        },
    )

    assert "“europe/amsterdam” is not a time zone of the tz database. Did you mean Europe/Amsterdam?" in page
    assert "Select a valid choice" not in page


def test_the_find_slot_day_says_what_is_wrong_with_it(alice):
    with timezone.override(AMS):
        form = FindSlotForm({"after": "31.12.2026", "later_than": "soon"})
        assert not form.is_valid()

    assert form.errors["after"] == ["“31.12.2026” is not a date: give one as year-month-day, for example 2035-03-05."]
    assert form.errors["later_than"] == [
        "soon is not a date and time as ISO 8601 writes one, for example 2035-03-05T09:00."
    ]


def test_api_dates_and_zones_name_the_value_and_what_to_give(api_client, alice):
    body = {
        "subject": "Training",
        "all_day": True,
        "start_date": "2026-02-30",
        "end_date": "0999-01-01",
        "agents": [alice.pk],
        "recurrence": "FREQ=WEEKLY",
        "time_zone": "Mars/Olympus",
    }

    errors = api_client(alice.user).post("/api/appointments/", body, format="json").json()

    assert errors["start_date"] == [
        "2026-02-30 is no real date: check the day and the month (year-month-day, as 2035-03-05)."
    ]
    assert errors["end_date"] == [
        "0999-01-01 is outside the dates the helpdesk supports. Give a date between 1900 and 2199."
    ]
    assert errors["time_zone"] == [
        "“Mars/Olympus” is not a time zone of the tz database. Give an IANA time zone name, for example "
        "Europe/London or America/New_York."
    ]


def test_an_api_planned_start_on_no_real_day_says_so(api_client, coordinator, ticket):
    response = api_client(coordinator).patch(
        f"/api/requests/{ticket.pk}/", {"planned_start": "2026-02-30T10:00"}, format="json"
    )

    assert response.json() == {
        "planned_start": ["2026-02-30T10:00 is no real date and time: check the day, the hour and the offset."]
    }


def test_a_patched_end_before_the_start_names_both_times(api_client, alice, alices_appointment):
    response = api_client(alice.user).patch(
        f"/api/appointments/{alices_appointment.pk}/", {"end": "2026-03-02T08:00:00+01:00"}, format="json"
    )

    assert response.json() == {
        "end": [
            "The end must be after the start: the end is Mon 2 Mar 2026 08:00, the start Mon 2 Mar 2026 09:00. "
            "Give a later end or an earlier start."
        ]
    }
