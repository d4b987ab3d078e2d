"""An all-day entry is days, not times, in every message that names it (trial fault 7): a shared
all-day entry of a New York and a London technician is stored from New York's midnight, which
the overlap warning showed as "Wed 16 Dec 2026 06:00 - Thu 17 Dec 2026 06:00" on Amsterdam's
clock. The weekday names come from Python's calendar, not from our formatter."""

from datetime import date

import pytest

from calendars import services

pytestmark = pytest.mark.django_db


def day_name(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def training(frank, carol, first: date, after: date):
    return services.create_appointment(
        subject="Vendor training day", all_day=True, start=first, end=after, agents=[frank, carol]
    )


def new_for_carol(client, carol, day: str):
    return client.post(
        "/calendar/appointments/new/",
        {"subject": "Site visit", "start": f"{day}T10:00", "end": f"{day}T11:00", "agents": [carol.pk]},
    ).content.decode()


def test_the_overlap_warning_names_an_all_day_entry_by_its_day(coordinator, carol, frank, page_client):
    training(frank, carol, date(2026, 12, 16), date(2026, 12, 17))

    page = new_for_carol(page_client(coordinator), carol, "2026-12-16")

    assert f"overlaps Carol&#x27;s &#x27;Vendor training day&#x27; {day_name(date(2026, 12, 16))} (all day)" in page
    assert "06:00" not in page


def test_the_overlap_warning_names_a_multi_day_entry_by_its_first_and_last_day(coordinator, carol, frank, page_client):
    training(frank, carol, date(2026, 12, 16), date(2026, 12, 19))  # 16, 17 and 18 Dec (DTEND exclusive)

    page = new_for_carol(page_client(coordinator), carol, "2026-12-17")

    assert f"{day_name(date(2026, 12, 16))} \u2013 {day_name(date(2026, 12, 18))} (all day)" in page


def test_the_api_overlap_message_names_the_day(coordinator, carol, frank, api_client):
    training(frank, carol, date(2026, 12, 16), date(2026, 12, 17))
    body = {"subject": "Site visit", "start": "2026-12-16T10:00:00", "end": "2026-12-16T11:00:00", "agents": [carol.pk]}

    answer = api_client(coordinator).post("/api/appointments/", body, format="json")

    assert answer.status_code == 409
    assert [overlap["message"] for overlap in answer.json()["overlaps"]] == [
        f"overlaps Carol's 'Vendor training day' {day_name(date(2026, 12, 16))} (all day)"
    ]


def test_an_all_day_entrys_page_says_its_day(coordinator, carol, frank, page_client):
    entry = training(frank, carol, date(2026, 12, 16), date(2026, 12, 17))

    page = page_client(coordinator).get(f"/calendar/appointments/{entry.pk}/").content.decode()

    assert f"<dd>{day_name(date(2026, 12, 16))} (all day)</dd>" in page
