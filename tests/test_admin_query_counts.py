"""Admin pages of appointments and external calendars took 2-5 s (review): the technicians' names
were read one query per technician (a technician is named by its user: the list filter's choices,
the select of a calendar's technician, the chosen technicians of an appointment), the sync links'
list read each row's appointment and calendar on its own, and a series' page drew every occurrence
of its year (a daily series: 366 rows, about 600 KB). Each page now costs the same number of queries
whatever the number of technicians and rows, and a series' page lists the occurrences changed or
cancelled on their own and the next 20 (RFC 5545 3.8.4.4 RECURRENCE-ID / 3.8.5.1 EXDATE: the
exceptions are what a series holds beyond its rule), with a link to all of them."""

from datetime import timedelta

import pytest
from dateutil.rrule import DAILY, rrule
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendars import services
from calendars.models import Appointment
from integrations.models import AgentCalendar, Connection, SyncLink


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def technicians(make_agent, how_many: int, first: int = 0) -> list:
    return [make_agent(f"tech{number}") for number in range(first, first + how_many)]


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as done:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(done.captured_queries)


def tomorrow_at_nine():
    return (timezone.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)


def link_each(calendar: AgentCalendar) -> None:
    """Every appointment gets a link on `calendar` (as a push makes), if it has none there yet."""
    for appointment in Appointment.objects.all():
        SyncLink.objects.get_or_create(appointment=appointment, agent_calendar=calendar)


def an_appointment_each(agents: list, start) -> Appointment:
    appointment = None
    for number, agent in enumerate(agents):
        at = start + timedelta(hours=number)
        appointment = services.create_appointment(
            subject=f"Visit {number}", start=at, end=at + timedelta(minutes=30), agents=agents[: number % 3 + 1]
        )
    return appointment


def test_appointment_list_and_page_cost_the_same_queries_for_3_and_12_technicians(
    staff_client, make_agent, django_assert_max_num_queries
):
    start = tomorrow_at_nine()
    few = technicians(make_agent, 3)
    shown = an_appointment_each(few, start)
    list_few = queries_of(staff_client, "/admin/calendars/appointment/")
    page_few = queries_of(staff_client, f"/admin/calendars/appointment/{shown.pk}/change/")

    many = technicians(make_agent, 9, first=3)
    an_appointment_each(few + many, start + timedelta(days=1))
    shown = Appointment.objects.get(subject="Visit 11")
    assert shown.agents.count() == 3  # as many chosen technicians as the page of the few showed

    with django_assert_max_num_queries(list_few):
        staff_client.get("/admin/calendars/appointment/")
    with django_assert_max_num_queries(page_few):
        staff_client.get(f"/admin/calendars/appointment/{shown.pk}/change/")


def test_external_calendar_page_and_sync_links_cost_the_same_queries_for_few_and_many(
    staff_client, make_agent, django_assert_max_num_queries
):
    dav = Connection.objects.create(name="DAV", kind="caldav", server_url="http://127.0.0.1:9/")
    few = technicians(make_agent, 2)
    calendars = [
        AgentCalendar.objects.create(agent=agent, connection=dav, calendar_id=f"/{agent.pk}/") for agent in few
    ]
    an_appointment_each(few, tomorrow_at_nine())
    link_each(calendars[0])
    page_few = queries_of(staff_client, f"/admin/integrations/agentcalendar/{calendars[0].pk}/change/")
    links_few = queries_of(staff_client, "/admin/integrations/synclink/")

    many = technicians(make_agent, 10, first=2)
    an_appointment_each(many, tomorrow_at_nine() + timedelta(days=1))
    link_each(calendars[1])
    assert SyncLink.objects.count() >= 12

    with django_assert_max_num_queries(page_few):
        staff_client.get(f"/admin/integrations/agentcalendar/{calendars[0].pk}/change/")
    with django_assert_max_num_queries(links_few):
        staff_client.get("/admin/integrations/synclink/")


def test_a_daily_series_page_lists_its_exceptions_and_the_next_20_occurrences(staff_client, make_agent):
    """A daily series from tomorrow 09:00 for a year, its 100th occurrence cancelled and its 3rd
    moved an hour on its own: the page lists those two and the next 20, by original start (dateutil's
    daily starts), and links to all 366 in the appointment list."""
    alice = technicians(make_agent, 1)[0]
    start = tomorrow_at_nine()
    master = services.create_recurring_appointment(
        rule="RRULE:FREQ=DAILY", agents=[alice], subject="Stand-up", start=start, end=start + timedelta(minutes=15)
    )
    starts = list(rrule(DAILY, dtstart=start, count=100))
    services.cancel_occurrence(master.occurrences.get(original_start=starts[99]))
    moved = master.occurrences.get(original_start=starts[2])
    services.update_appointment(moved, start=moved.start + timedelta(hours=1), end=moved.end + timedelta(hours=1))
    every = master.occurrences.count()

    response = staff_client.get(f"/admin/calendars/appointment/{master.pk}/change/")

    listed = [form.instance.original_start for form in response.context["inline_admin_formsets"][0].formset.forms]
    assert listed == [*starts[:20], starts[99]]
    page = response.content.decode()
    assert f'href="/admin/calendars/appointment/?master__id__exact={master.pk}">all {every}</a>' in page
    assert every >= 365
    listing = staff_client.get(f"/admin/calendars/appointment/?master__id__exact={master.pk}")
    assert listing.context["cl"].result_count == every
