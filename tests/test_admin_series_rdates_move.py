"""Admin: a series' start changed in the same save as its rule field, which shows the rule with its
RDATE lines at the start shown before the save. The added day moves with the series by the start's
shift on its wall clock, as its EXDATEs do (tests/test_admin_series_rule_and_start.py), instead of
being put back at the old time. Expected starts: dateutil's rruleset of the rule and the RDATE,
each shifted by the move (written out by hand)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr
from django.urls import reverse

from calendars.models import Appointment
from tests.test_admin import appointment_form

AMS = ZoneInfo("Europe/Amsterdam")
RULE = "RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=3"
ADDED = "RDATE:20261218T090000Z"  # Friday 18 Dec 2026 10:00 Amsterdam (CET)


def expected(first: datetime) -> list[datetime]:
    starts = rruleset()
    starts.rrule(rrulestr(RULE.removeprefix("RRULE:"), dtstart=datetime(2026, 12, 2, 10)))
    starts.rdate(datetime(2026, 12, 18, 10))
    shift = first - datetime(2026, 12, 2, 10)
    return [(start + shift).replace(tzinfo=AMS) for start in starts]


def visible_starts(master) -> list[datetime]:
    return [o.start for o in Appointment.objects.visible().filter(master=master).order_by("start")]


def test_admin_save_of_a_new_start_with_the_rule_as_shown_moves_its_added_day(admin_client, alice):
    admin_client.post(reverse("admin:calendars_appointment_add"), appointment_form(alice, rule=f"{RULE}\n{ADDED}"))
    master = Appointment.objects.get(schedule__isnull=False)
    assert visible_starts(master) == expected(datetime(2026, 12, 2, 10))
    url = reverse("admin:calendars_appointment_change", args=[master.pk])
    shown = admin_client.get(url).context["adminform"].form.initial["rule"]
    assert "RDATE" in shown

    response = admin_client.post(url, appointment_form(alice, start_1="10:30:00", end_1="11:30:00", rule=shown))

    assert response.status_code == 302
    assert visible_starts(master) == expected(datetime(2026, 12, 2, 10, 30))
    assert expected(datetime(2026, 12, 2, 10, 30))[-1] == datetime(2026, 12, 18, 10, 30, tzinfo=AMS)
    assert timedelta(minutes=30) == expected(datetime(2026, 12, 2, 10, 30))[0] - expected(datetime(2026, 12, 2, 10))[0]
