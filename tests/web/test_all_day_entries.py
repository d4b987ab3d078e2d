"""All-day entries made on the pages and over the API (trial fault 8): the forms have "All day"
with a first and last day (included, as people write them), stored as RFC 5545 3.6.1 has it (the
end the day after the last); the API takes `start_date`/`end_date` for an all-day entry and
refuses them, naming them, on any other, never dropping them."""

from datetime import date, datetime, timedelta

import icalendar
import pytest
from dateutil import rrule

from calendars.models import Appointment

pytestmark = pytest.mark.django_db


def rfc_5545_days(first: date, after: date) -> list[date]:
    """The days a VEVENT with DTSTART;VALUE=DATE and DTEND;VALUE=DATE covers, as icalendar reads it."""
    event = icalendar.Event()
    event.add("dtstart", first)
    event.add("dtend", after)
    start, length = event.decoded("dtstart"), event.duration
    return [start + timedelta(days=day) for day in range(length.days)]


def test_the_rfc_reading_of_the_stored_days():
    assert rfc_5545_days(date(2026, 12, 21), date(2026, 12, 23)) == [date(2026, 12, 21), date(2026, 12, 22)]


def post_days(client, agent, first: str, last: str):
    """The new-appointment form sent as "All day" from `first` to `last` (included)."""
    fields = {"subject": "Training", "all_day": "on", "first_day": first, "last_day": last, "agents": [agent.pk]}
    return client.post("/calendar/appointments/new/", fields)


def test_the_new_appointment_form_makes_an_all_day_entry_from_its_first_and_last_day(alice, page_client):
    answer = post_days(page_client(alice.user), alice, "2026-12-21", "2026-12-22")

    assert answer.status_code == 302, answer.content.decode()[:3000]
    entry = Appointment.objects.get(subject="Training")
    assert entry.all_day
    assert rfc_5545_days(entry.start_date, entry.end_date) == [date(2026, 12, 21), date(2026, 12, 22)]


def test_a_last_day_before_the_first_is_refused(alice, page_client):
    page = post_days(page_client(alice.user), alice, "2026-12-21", "2026-12-20")

    assert (
        "The last day must be on or after the first day: 2026-12-20 is before 2026-12-21. "
        "Give a later last day or an earlier first day."
    ) in page.content.decode()
    assert not Appointment.objects.exists()


def test_the_request_tab_offers_all_day(alice, ticket, page_client):
    page = page_client(alice.user).get(f"/requests/{ticket.pk}/?tab=appointments").content.decode()

    assert 'name="appointment-all_day"' in page and 'name="appointment-first_day"' in page


def test_saving_an_all_day_entrys_page_unchanged_keeps_its_days(alice, api_client, page_client):
    made = (
        api_client(alice.user)
        .post(
            "/api/appointments/",
            {
                "subject": "Training",
                "all_day": True,
                "start_date": "2026-12-21",
                "end_date": "2026-12-23",
                "agents": [alice.pk],
            },
            format="json",
        )
        .json()
    )
    client = page_client(alice.user)
    form = client.get(f"/calendar/appointments/{made['id']}/").context["form"]
    fields = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False, "")}
    fields["agents"] = [alice.pk]

    answer = client.post(f"/calendar/appointments/{made['id']}/", fields)

    assert answer.status_code == 302, answer.content.decode()[:3000]
    entry = Appointment.objects.get(pk=made["id"])
    assert (entry.all_day, entry.start_date, entry.end_date) == (True, date(2026, 12, 21), date(2026, 12, 23))


def test_the_api_takes_the_days_of_an_all_day_entry_as_the_trial_sent_them(coordinator, alice, api_client):
    body = {
        "subject": "Day off",
        "all_day": True,
        "start_date": "2026-12-21",
        "end_date": "2026-12-22",
        "start": "2026-12-20T12:00:00",
        "agents": [alice.pk],
    }

    answer = api_client(coordinator).post("/api/appointments/", body, format="json")

    assert answer.status_code == 201, answer.json()
    assert (answer.json()["start_date"], answer.json()["end_date"]) == ("2026-12-21", "2026-12-22")
    entry = Appointment.objects.get(pk=answer.json()["id"])
    assert rfc_5545_days(entry.start_date, entry.end_date) == [date(2026, 12, 21)]


def test_the_api_takes_an_all_day_entry_by_its_first_day_alone(coordinator, alice, api_client):
    body = {"subject": "Day off", "all_day": True, "start_date": "2026-12-21", "agents": [alice.pk]}

    answer = api_client(coordinator).post("/api/appointments/", body, format="json")

    assert answer.status_code == 201, answer.json()
    assert (answer.json()["start_date"], answer.json()["end_date"]) == ("2026-12-21", "2026-12-22")


@pytest.mark.parametrize(
    ("extra", "named", "problem"),
    [
        ({"start_date": "2026-12-21"}, "start_date", "Days are for all-day entries"),
        ({"all_day": True, "start_date": "2026-12-21", "end_date": "2026-12-21"}, "end_date", "the day after the last"),
    ],
)
def test_the_api_refuses_days_it_cannot_use_naming_them(coordinator, alice, api_client, extra, named, problem):
    body = {"subject": "Day off", "start": "2026-12-21T09:00:00", "end": "2026-12-21T10:00:00", "agents": [alice.pk]}

    answer = api_client(coordinator).post("/api/appointments/", body | extra, format="json")

    assert answer.status_code == 400
    assert problem in answer.json()[named][0]
    assert not Appointment.objects.exists()


def test_an_all_day_series_for_another_zones_technician_keeps_its_days(coordinator, frank, page_client):
    """A coordinator on Amsterdam's clock makes a weekly day off for New York's Frank: each
    occurrence is the one day dateutil's rule gives, not two days from Amsterdam's midnight."""
    fields = {"repeat": "weekly", "repeat_until": "2027-01-11", "confirm_overlap": "on"}
    client = page_client(coordinator)

    answer = client.post(
        "/calendar/appointments/new/",
        {"subject": "Off", "all_day": "on", "first_day": "2026-12-21", "agents": [frank.pk], **fields},
    )

    assert answer.status_code == 302, answer.content.decode()[:3000]
    master = Appointment.objects.get(schedule__isnull=False)
    days = [(o.start_date, o.end_date) for o in master.occurrences.order_by("start")]
    starts = rrule.rrule(rrule.WEEKLY, dtstart=datetime(2026, 12, 21), until=datetime(2027, 1, 11))
    assert days == [(start.date(), start.date() + timedelta(days=1)) for start in starts]
    assert (master.start_date, master.end_date) == (date(2026, 12, 21), date(2026, 12, 22))


def test_the_api_refuses_a_zone_for_an_all_day_series(coordinator, frank, api_client):
    body = {"subject": "Off", "all_day": True, "start_date": "2026-12-21", "agents": [frank.pk]}
    body |= {"recurrence": "FREQ=WEEKLY;COUNT=3", "time_zone": "Europe/London"}

    answer = api_client(coordinator).post("/api/appointments/", body, format="json")

    assert answer.status_code == 400
    assert "all-day series" in answer.json()["time_zone"][0]


def test_an_all_day_series_answers_no_time_zone_on_the_api_its_schema_and_its_page(
    coordinator, frank, api_client, page_client, schema_document
):
    """Trial F9: an all-day series answered `"time_zone": "Europe/Amsterdam"`, though the field's
    help says an all-day series has none (RFC 5545 3.3.4: a DATE value carries no zone; its days
    are the same on every clock) and a PATCH of one is refused. It answers null, as the schema
    says it may, and its page names no series time zone; a timed series keeps its zone."""
    client = api_client(coordinator)
    body = {"subject": "Off", "all_day": True, "start_date": "2026-12-21", "agents": [frank.pk]}
    made = client.post("/api/appointments/", {**body, "recurrence": "FREQ=WEEKLY;COUNT=3"}, format="json")
    timed = {"subject": "Stand-up", "start": "2026-12-21T09:00:00", "end": "2026-12-21T09:15:00", "agents": [frank.pk]}
    timed_made = client.post(
        "/api/appointments/", {**timed, "recurrence": "FREQ=WEEKLY;COUNT=3", "confirm_overlap": True}, format="json"
    )

    assert made.status_code == 201, made.content
    assert made.json()["time_zone"] is None
    read = client.get(f"/api/appointments/{made.json()['id']}/").json()
    assert read["time_zone"] is None and read["recurrence"]
    assert client.put(f"/api/appointments/{made.json()['id']}/", read, format="json").status_code == 200
    assert timed_made.json()["time_zone"] == "Europe/Amsterdam"  # the coordinator's clock (the site's)
    field = schema_document["components"]["schemas"]["Appointment"]["properties"]["time_zone"]
    assert field.get("nullable") is True and "null on one" in field["description"]
    page = page_client(frank.user).get(f"/calendar/appointments/{made.json()['id']}/").content.decode()
    timed_page = page_client(frank.user).get(f"/calendar/appointments/{timed_made.json()['id']}/").content.decode()
    assert "Series time zone" not in page and "Europe/Amsterdam" not in page
    assert "Series time zone" in timed_page
