"""An occurrence's edit page in a real browser: the choice of what the edit is for is a named
radio group (a keyboard and a screen reader reach it by its labels), and "This and following"
splits the series."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from calendars.models import Appointment
from tests.calendars.test_series_split import mondays_at_nine

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AMS = ZoneInfo("Europe/Amsterdam")


def test_this_and_following_is_chosen_on_the_occurrence_page_and_splits_the_series(open_page, log_in, alice):
    series = mondays_at_nine(alice, "RRULE:FREQ=WEEKLY;COUNT=4")
    third = series.occurrences.get(original_start=datetime(2030, 3, 18, 9, tzinfo=AMS))
    page = log_in(open_page(), "alice")
    page.goto(f"/calendar/appointments/{third.pk}/")

    group = page.get_by_role("group", name="Save the changes for")
    assert group.get_by_role("radio", name="This occurrence", exact=True).is_checked()
    group.get_by_role("radio", name="This and following occurrences").check()
    page.get_by_label("Subject").fill("Stand-up, new room")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("text=they are a new series from this one on")

    new = Appointment.objects.exclude(pk=series.pk).get(schedule__isnull=False)
    assert page.url.endswith(f"/calendar/appointments/{new.pk}/")
    subjects = {master.pk: set(master.occurrences.values_list("subject", flat=True)) for master in (series, new)}
    assert subjects == {series.pk: {"Stand-up"}, new.pk: {"Stand-up, new room"}}
