"""A series' start and its rule changed in one save move its exceptions by one path, the service's
(`edit_appointment`: the rule's days move with a new day, `_move_exceptions` moves the cancelled
starts), in the admin as over the API (review: the admin moved them by two mechanisms of its own, a
shift of the rule field's EXDATE lines and a second rule change, and they disagreed with the API's).

Expected values: dateutil's expansion of the series before the edit gives the cancelled start's
place in the series (its second occurrence); dateutil's expansion of the rule after the edit from
the new start, as Outlook and Google move a series to another day (RFC 5545 3.8.5.3: the new start
is the first instance, so BYDAY follows it), gives the start that place now has, which is the
EXDATE to store."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.urls import reverse
from rest_framework.test import APIClient

from calendars import services as calendar_services
from calendars.models import Appointment
from calendars.selectors import cancelled_starts
from tests.test_admin import appointment_form

AMS = ZoneInfo("Europe/Amsterdam")
FIRST = datetime(2026, 12, 2, 10, tzinfo=AMS)  # Wed 2 Dec 2026 10:00 Amsterdam
CANCELLED = datetime(2026, 12, 9, 10, tzinfo=AMS)  # its second Wednesday
NEW_FIRST = datetime(2026, 12, 3, 10, 30, tzinfo=AMS)  # moved to Thu 3 Dec 10:30


def expected_exdates() -> list[datetime]:
    """dateutil: the second start of the series before the edit is cancelled; the second start of
    the series after it (six Thursdays from 3 Dec 10:30) is that cancelled start moved."""
    before = list(rrulestr("FREQ=WEEKLY;BYDAY=WE;COUNT=4", dtstart=FIRST))
    place = before.index(CANCELLED)
    after = list(rrulestr("FREQ=WEEKLY;BYDAY=TH;COUNT=6", dtstart=NEW_FIRST))
    return [after[place]]


@pytest.fixture
def series(alice):
    """Wednesdays from 2 Dec 2026 10:00 Amsterdam, 4 times, the second one (9 Dec) cancelled."""
    master = calendar_services.create_recurring_appointment(
        rule="RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=4\nEXDATE:20261209T090000Z",
        agents=[alice],
        subject="Site visit",
        start=FIRST,
        end=FIRST.replace(hour=11),
    )
    assert cancelled_starts(master.schedule) == [CANCELLED]
    return master


def visible_starts(master: Appointment) -> list[datetime]:
    return [o.start for o in Appointment.objects.visible().filter(master=master).order_by("start")]


def expected_starts() -> list[datetime]:
    after = list(rrulestr("FREQ=WEEKLY;BYDAY=TH;COUNT=6", dtstart=NEW_FIRST))
    return [start for start in after if start not in expected_exdates()]


def stored_exdates(master: Appointment) -> list[datetime]:
    return sorted(cancelled_starts(Appointment.objects.get(pk=master.pk).schedule))


def test_admin_save_of_a_new_day_and_a_longer_rule_moves_the_cancelled_day_as_the_api_does(admin_client, alice, series):
    """The start moved to Thu 3 Dec 10:30 and the rule field (shown with its EXDATE) made COUNT=6:
    the series moves to Thursdays and 9 Dec's cancellation to Thu 10 Dec 10:30."""
    url = reverse("admin:calendars_appointment_change", args=[series.pk])
    shown = admin_client.get(url).context["adminform"].form.initial["rule"]
    exdate_lines = [line for line in shown.splitlines() if line.startswith("EXDATE")]
    assert len(exdate_lines) == 1, shown
    rule = "\n".join(["RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=6", *exdate_lines])

    response = admin_client.post(
        url,
        appointment_form(
            alice, start_0="2026-12-03", start_1="10:30:00", end_0="2026-12-03", end_1="11:30:00", rule=rule
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert stored_exdates(series) == expected_exdates() == [datetime(2026, 12, 10, 10, 30, tzinfo=AMS)]
    assert visible_starts(series) == expected_starts()


def test_api_patch_of_a_new_day_and_a_longer_rule_moves_the_cancelled_day_as_the_admin_does(alice, series):
    client = APIClient()
    client.force_authenticate(alice.user)

    response = client.patch(
        f"/api/appointments/{series.pk}/",
        {
            "start": NEW_FIRST.isoformat(),
            "end": NEW_FIRST.replace(hour=11).isoformat(),
            "recurrence": "FREQ=WEEKLY;BYDAY=WE;COUNT=6",
            "confirm_overlap": True,
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert stored_exdates(series) == expected_exdates()
    assert visible_starts(series) == expected_starts()


def test_admin_save_of_a_new_time_with_the_exdate_line_taken_out_brings_the_day_back_at_the_new_time(
    admin_client, alice, series
):
    """The start moved to 10:30 and the field's EXDATE line taken out (the rule as it was): nothing
    stays cancelled, and the series is dateutil's four Wednesdays from 2 Dec 10:30."""
    url = reverse("admin:calendars_appointment_change", args=[series.pk])
    shown = admin_client.get(url).context["adminform"].form.initial["rule"]
    rule = "\n".join(line for line in shown.splitlines() if not line.startswith("EXDATE"))

    response = admin_client.post(url, appointment_form(alice, start_1="10:30:00", end_1="11:30:00", rule=rule))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert stored_exdates(series) == []
    first = FIRST.replace(minute=30)
    assert visible_starts(series) == list(rrulestr("FREQ=WEEKLY;BYDAY=WE;COUNT=4", dtstart=first))
