"""Admin: a series' start and its rule field changed in one save (trial fault). The field shows
the whole rule, EXDATE lines included, at the start shown before the save; the save moved the
series, shifting its exclusions with it, and then put the field's EXDATEs, still at the old time,
in place of the shifted ones: the cancelled day came back. Expected, as a series' move does
(`dropped_exceptions`): the field's exclusions move by the start's shift on the series' clock and
the new rule is kept; an exclusion the new rule no longer gives is named, not silently dropped.
The right occurrences are dateutil's expansion (rrulestr / rruleset) of the rule and the shifted
EXDATE, written out by hand."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rruleset, rrulestr
from django.contrib.messages import get_messages
from django.urls import reverse

from calendars.models import Appointment
from tests.test_admin import appointment_form

AMS = ZoneInfo("Europe/Amsterdam")
# Wed 9 Dec 2026 10:00 Amsterdam (CET, UTC+1): the series' second Wednesday, cancelled.
CANCELLED = "EXDATE:20261209T090000Z"


@pytest.fixture
def series_with_a_cancelled_day(admin_client, alice):
    """Wednesdays from 2 Dec 2026 10:00 Amsterdam, 4 times, the second one (9 Dec) cancelled."""
    rule = f"RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=4\n{CANCELLED}"
    admin_client.post(reverse("admin:calendars_appointment_add"), appointment_form(alice, rule=rule))
    master = Appointment.objects.get(schedule__isnull=False)
    assert not master.occurrences.filter(original_start=datetime(2026, 12, 9, 10, tzinfo=AMS)).exists()
    return master


def expected_starts(rule: str, first: datetime, exdates: list[datetime]) -> list[datetime]:
    starts = rruleset()
    starts.rrule(rrulestr(rule, dtstart=first))
    for moment in exdates:
        starts.exdate(moment)
    return list(starts)


def visible_starts(master) -> list[datetime]:
    return [o.start for o in Appointment.objects.visible().filter(master=master).order_by("start")]


def save(admin_client, alice, master, **fields):
    url = reverse("admin:calendars_appointment_change", args=[master.pk])
    shown = admin_client.get(url).context["adminform"].form.initial["rule"]
    assert CANCELLED in shown
    response = admin_client.post(url, appointment_form(alice, **fields))
    assert response.status_code == 302
    return [str(message) for message in get_messages(response.wsgi_request)]


def save_at_half_past_ten(admin_client, alice, master, rule: str) -> list[str]:
    """The start moved from 10:00 to 10:30 and the field given `rule` with its EXDATE as shown."""
    return save(admin_client, alice, master, start_1="10:30:00", end_1="11:30:00", rule=f"{rule}\n{CANCELLED}")


def test_a_new_start_and_rule_in_one_save_keep_the_cancelled_day_cancelled(
    admin_client, alice, series_with_a_cancelled_day
):
    """10:00 -> 10:30 and COUNT=4 -> COUNT=6, the field's EXDATE as shown: 9 Dec 10:30 stays cancelled."""
    save_at_half_past_ten(admin_client, alice, series_with_a_cancelled_day, "RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=6")

    first = datetime(2026, 12, 2, 10, 30, tzinfo=AMS)
    expected = expected_starts("FREQ=WEEKLY;BYDAY=WE;COUNT=6", first, [datetime(2026, 12, 9, 10, 30, tzinfo=AMS)])
    assert len(expected) == 5
    assert visible_starts(series_with_a_cancelled_day) == expected


def test_a_series_moved_to_thursdays_with_its_rule_keeps_the_cancelled_day_on_its_thursday(
    admin_client, alice, series_with_a_cancelled_day
):
    save(
        admin_client,
        alice,
        series_with_a_cancelled_day,
        start_0="2026-12-03",
        end_0="2026-12-03",
        rule=f"RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=4\n{CANCELLED}",
    )

    first = datetime(2026, 12, 3, 10, tzinfo=AMS)
    expected = expected_starts("FREQ=WEEKLY;BYDAY=TH;COUNT=4", first, [datetime(2026, 12, 10, 10, tzinfo=AMS)])
    assert visible_starts(series_with_a_cancelled_day) == expected


def test_a_cancelled_day_the_new_rule_no_longer_gives_is_named(admin_client, alice, series_with_a_cancelled_day):
    """Every other Wednesday from 10:30: 9 Dec is not on the rule any more; the page says so."""
    said = save_at_half_past_ten(
        admin_client, alice, series_with_a_cancelled_day, "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;COUNT=3"
    )

    first = datetime(2026, 12, 2, 10, 30, tzinfo=AMS)
    assert visible_starts(series_with_a_cancelled_day) == expected_starts(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;COUNT=3", first, []
    )
    assert any("Wed 9 Dec 2026 10:00" in message for message in said), said
    assert not series_with_a_cancelled_day.schedule.recurrence.exdates
