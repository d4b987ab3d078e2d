""" "Stop repeating now" on a series' page and over the API (PATCH `stop_repeating`): the
series' past stays, its future goes, its rule ends at the last start before now (RFC 5545
3.3.10 UNTIL, as Outlook's "end the series"). Expected starts come from dateutil's rrule."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule
from django.contrib.auth.models import Permission
from django.utils import timezone

from calendars import services as calendar_services
from calendars.models import Appointment
from calendars.series_words import rule_text

AMS = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def first() -> datetime:
    """09:00 Amsterdam, three weeks and a day ago: three starts of a weekly series lie behind."""
    return (timezone.now().astimezone(AMS) - timedelta(weeks=3, days=1)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )


@pytest.fixture
def weekly(alice, first) -> Appointment:
    return calendar_services.create_recurring_appointment(
        rule="FREQ=WEEKLY;COUNT=10", agents=[alice], start=first, end=first + HOUR, subject="Weekly check"
    )


def kept_starts(first: datetime, now: datetime) -> list[datetime]:
    return [day for day in rrule.rrule(rrule.WEEKLY, count=10, dtstart=first) if day < now]


def visible_starts(master: Appointment) -> list[datetime]:
    return list(Appointment.objects.visible().filter(master=master).order_by("start").values_list("start", flat=True))


def test_a_technician_stops_a_series_on_its_page(page_client, alice, weekly, first):
    client = page_client(alice.user)
    page = client.get(f"/calendar/appointments/{weekly.pk}/").content.decode()
    assert "Stop repeating now" in page

    response = client.post(f"/calendar/appointments/{weekly.pk}/stop-repeating/", follow=True)

    kept = kept_starts(first, timezone.now())
    assert len(kept) == 4
    assert visible_starts(weekly) == kept
    until = kept[-1].astimezone(UTC)
    assert rule_text(Appointment.objects.get(pk=weekly.pk)) == f"FREQ=WEEKLY;UNTIL={until:%Y%m%dT%H%M%SZ}"
    page = response.content.decode()
    assert "The series stopped repeating" in page
    assert "Stop repeating now" not in page  # nothing left to stop


def test_an_occurrence_page_offers_to_stop_its_series(page_client, alice, weekly):
    occurrence = weekly.occurrences.order_by("start").first()
    page = page_client(alice.user).get(f"/calendar/appointments/{occurrence.pk}/").content.decode()
    assert f'action="/calendar/appointments/{weekly.pk}/stop-repeating/"' in page


def test_another_technician_may_not_stop_the_series(page_client, bob, weekly):
    response = page_client(bob.user).post(f"/calendar/appointments/{weekly.pk}/stop-repeating/")
    assert response.status_code == 403
    assert rule_text(Appointment.objects.get(pk=weekly.pk)) == "FREQ=WEEKLY;COUNT=10"


def test_a_series_stops_repeating_over_the_api(api_client, alice, weekly, first):
    response = api_client(alice.user).patch(f"/api/appointments/{weekly.pk}/", {"stop_repeating": True}, format="json")

    assert response.status_code == 200, response.content
    kept = kept_starts(first, timezone.now())
    assert visible_starts(weekly) == kept
    assert response.json()["recurrence"] == f"FREQ=WEEKLY;UNTIL={kept[-1].astimezone(UTC):%Y%m%dT%H%M%SZ}"


def test_the_api_refuses_to_stop_a_series_that_has_not_begun(api_client, alice):
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    master = calendar_services.create_recurring_appointment(
        rule="FREQ=DAILY;COUNT=3", agents=[alice], start=start, end=start + HOUR, subject="Later"
    )
    response = api_client(alice.user).patch(f"/api/appointments/{master.pk}/", {"stop_repeating": True}, format="json")

    assert response.status_code == 400
    assert "not begun yet" in response.json()["stop_repeating"][0]
    assert len(visible_starts(master)) == 3


def test_the_api_refuses_stop_repeating_with_a_new_rule_or_on_an_occurrence(api_client, alice, weekly):
    client = api_client(alice.user)
    both = client.patch(
        f"/api/appointments/{weekly.pk}/", {"stop_repeating": True, "recurrence": "FREQ=DAILY"}, format="json"
    )
    occurrence = weekly.occurrences.order_by("start").first()
    on_occurrence = client.patch(f"/api/appointments/{occurrence.pk}/", {"stop_repeating": True}, format="json")

    assert (both.status_code, on_occurrence.status_code) == (400, 400)
    assert "stop_repeating" in both.json() and "stop_repeating" in on_occurrence.json()
    assert rule_text(Appointment.objects.get(pk=weekly.pk)) == "FREQ=WEEKLY;COUNT=10"


def test_stopping_an_all_day_series_names_its_last_day_on_the_series_calendar(page_client, alice, make_agent):
    """Alice's all-day weekly series (Amsterdam) stopped by Frank, a coordinator in Los Angeles,
    nine hours behind: its days begin at Amsterdam's midnight, 15:00 the day before for him. The
    message names the last day kept as the series' page does, on the series' own calendar (RFC
    5545 DATE values), never the day before. Days worked out with dateutil."""
    frank = make_agent("frank", time_zone="America/Los_Angeles")
    frank.user.user_permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
    today = timezone.now().astimezone(AMS).date()
    first = today - timedelta(weeks=3, days=1)
    master = calendar_services.create_recurring_appointment(
        rule="FREQ=WEEKLY;COUNT=10",
        agents=[alice],
        start=first,
        end=first + timedelta(days=1),
        all_day=True,
        subject="Stock take",
    )
    days = [day.date() for day in rrule.rrule(rrule.WEEKLY, count=10, dtstart=datetime.combine(first, time()))]
    last_kept = [day for day in days if day <= today][-1]

    response = page_client(frank.user).post(f"/calendar/appointments/{master.pk}/stop-repeating/", follow=True)

    page = response.content.decode()
    said = page.split("The series stopped repeating: ", 1)[1].split("</", 1)[0]
    assert said == f"Every week on {first:%A}, all day, until {last_kept:%a} {last_kept.day} {last_kept:%b %Y}."
