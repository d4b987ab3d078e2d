"""A planned request (S1.1) and an action logged on it (S1.2) read apart (dispatch task 2): both
have the request's subject, "#12 Printer jams", and looked the same on the calendar, on the phone
and in external calendars. The action's entry is titled "Work logged: #12 Printer jams" by
default; admins' templates still decide what external entries say ({source}, {title}).

Feeds are read with icalendar and recurring-ical-events, not with the feed writer.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from calendars.formatting import check_template
from calendars.models import Appointment, CalendarSettings
from integrations.sync import mapping
from tests.feed_tokens import feed_token_of
from tickets import services as ticket_services


def at(days: int, hour: int) -> datetime:
    """`hour`:00 Amsterdam (the test's clock), `days` days from today: inside the feed's window."""
    day = timezone.localdate() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo("Europe/Amsterdam"))


def _plan_and_log(ticket, alice):
    ticket_services.update_request(ticket, planned_start=at(2, 9))
    ticket_services.log_action(
        ticket, agent=alice, done_at=at(-1, 14), time_taken=timedelta(hours=2), note="Fixed", add_to_calendar=True
    )
    planned = Appointment.objects.get(request=ticket, source=Appointment.Source.PLANNED)
    logged = Appointment.objects.get(request=ticket, source=Appointment.Source.ACTION)
    assert planned.subject == logged.subject == f"#{ticket.pk} Printer jams"  # the same subject, as before
    return planned, logged


def test_the_phone_feed_names_the_logged_work_apart_from_the_plan(client, ticket, alice):
    _plan_and_log(ticket, alice)

    body = client.get(reverse("feeds:agent", args=[feed_token_of(alice)])).content
    events = recurring_ical_events.of(Calendar.from_ical(body)).between(at(-2, 0), at(5, 0))

    summaries = {event.decoded("dtstart"): str(event["summary"]) for event in events}
    assert summaries == {at(2, 9): f"#{ticket.pk} Printer jams", at(-1, 14): f"Work logged: #{ticket.pk} Printer jams"}


def test_the_calendar_widget_gets_the_titles_apart(api_client, coordinator, ticket, alice):
    planned, logged = _plan_and_log(ticket, alice)

    items = (
        api_client(coordinator)
        .get("/api/appointments/calendar/", {"start": at(-2, 0).isoformat(), "end": at(5, 0).isoformat()})
        .json()
    )

    titles = {item["id"]: (item["subject"], item["title"]) for item in items}
    assert titles[planned.pk] == (planned.subject, f"#{ticket.pk} Printer jams")
    assert titles[logged.pk] == (logged.subject, f"Work logged: #{ticket.pk} Printer jams")
    one = api_client(coordinator).get(f"/api/appointments/{logged.pk}/").json()
    assert one["title"] == f"Work logged: #{ticket.pk} Printer jams"


def test_the_default_external_subject_names_the_logged_work(ticket, alice):
    planned, logged = _plan_and_log(ticket, alice)
    settings = CalendarSettings.load()

    assert settings.subject_template == "{title}"
    subjects = [mapping.local_event(a, settings=settings, marker="m").subject for a in (planned, logged)]
    assert subjects == [f"#{ticket.pk} Printer jams", f"Work logged: #{ticket.pk} Printer jams"]


def test_admins_templates_still_decide_and_can_name_the_source(ticket, alice):
    planned, logged = _plan_and_log(ticket, alice)
    settings = CalendarSettings.load()
    settings.subject_template = "[{source}] {subject}"
    assert check_template(settings.subject_template) == ""

    subjects = [mapping.local_event(a, settings=settings, marker="m").subject for a in (planned, logged)]
    assert subjects == [f"[Planned] #{ticket.pk} Printer jams", f"[Work logged] #{ticket.pk} Printer jams"]
    settings.subject_template = "{subject}"
    subjects = [mapping.local_event(a, settings=settings, marker="m").subject for a in (planned, logged)]
    assert subjects == [f"#{ticket.pk} Printer jams"] * 2


def test_a_title_shown_externally_reads_back_as_the_subject_behind_it():
    values = {"subject": "#12 Printer", "title": "Work logged: #12 Printer", "source": "Work logged"}

    assert mapping.untemplate("{title}", "Work logged: #12 Printer (done)", values, field="subject") == (
        "#12 Printer (done)"
    )
    assert mapping.untemplate("[HD] {title}", "[HD] Work logged: X", values, field="subject") == "X"
    planned = {"subject": "#12 Printer", "title": "#12 Printer", "source": "Planned"}
    assert mapping.untemplate("{title}", "#12 Printer (moved)", planned, field="subject") == "#12 Printer (moved)"
