"""One edit of an appointment as the edit page and the API's PATCH make it
(`services.edit_appointment`): the series rules both used to check on their own, now the
service's. Expected starts come from dateutil's rrule (an independent RFC 5545 expansion)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import MO, TU, WEEKLY, rrule
from django.core.exceptions import ValidationError

from calendars import services
from calendars.models import Appointment
from calendars.series_words import rule_text

AMS = ZoneInfo("Europe/Amsterdam")
FIRST = datetime(2035, 3, 5, 9, tzinfo=AMS)  # a Monday
HOUR = timedelta(hours=1)
RULE = "FREQ=WEEKLY;COUNT=6;BYDAY=MO"

pytestmark = pytest.mark.django_db


@pytest.fixture
def weekly(alice) -> Appointment:
    master = services.create_recurring_appointment(
        rule=RULE, subject="Stand-up", start=FIRST, end=FIRST + HOUR, agents=[alice]
    )
    return Appointment.objects.select_related("schedule").get(pk=master.pk)


def starts(master: Appointment) -> list[datetime]:
    return list(Appointment.objects.visible().filter(master=master).order_by("start").values_list("start", flat=True))


def refusal(error: pytest.ExceptionInfo, field: str) -> str:
    return " ".join(error.value.message_dict[field])


def test_a_rule_on_an_occurrence_is_refused_naming_its_series(weekly):
    occurrence = weekly.occurrences.order_by("start").first()

    with pytest.raises(ValidationError) as error:
        services.edit_appointment(occurrence, recurrence="FREQ=DAILY")

    assert refusal(error, "recurrence") == (
        f"An occurrence follows its series' rule: change the rule on the series ({weekly.pk}); "
        "move or cancel this occurrence on its own instead."
    )


def test_a_rule_on_a_single_appointment_is_refused_and_it_stays_single(alice):
    single = services.create_appointment(subject="Visit", start=FIRST, end=FIRST + HOUR, agents=[alice])

    with pytest.raises(ValidationError) as error:
        services.edit_appointment(single, recurrence="FREQ=DAILY", subject="Changed")

    assert "this one stays single" in refusal(error, "recurrence")
    single = Appointment.objects.get(pk=single.pk)
    assert single.subject == "Visit" and not single.is_recurring_master


def test_an_empty_rule_is_refused_and_the_series_keeps_its_own(weekly):
    with pytest.raises(ValidationError) as error:
        services.edit_appointment(weekly, recurrence="  ")

    assert refusal(error, "recurrence") == (
        "A series keeps a rule: give the new one, end it with UNTIL, or delete the series."
    )
    assert rule_text(Appointment.objects.get(pk=weekly.pk)) == RULE


def test_stopping_and_a_new_rule_together_are_refused(weekly):
    with pytest.raises(ValidationError) as error:
        services.edit_appointment(weekly, recurrence="FREQ=DAILY", stop=True)

    assert refusal(error, "stop_repeating") == (
        "Stop a series with `stop_repeating` or give it a new `recurrence`, not both."
    )


def test_only_a_series_master_stops_repeating(alice):
    single = services.create_appointment(subject="Visit", start=FIRST, end=FIRST + HOUR, agents=[alice])

    with pytest.raises(ValidationError) as error:
        services.edit_appointment(single, stop=True)

    assert refusal(error, "stop_repeating") == "Only a series' master stops repeating (PATCH it on the series)."


def test_stopping_a_series_not_begun_is_refused_under_stop_repeating(weekly):
    with pytest.raises(ValidationError) as error:
        services.edit_appointment(weekly, stop=True)

    assert "not begun yet" in refusal(error, "stop_repeating")


def test_a_rule_the_schedule_refuses_is_said_under_recurrence_and_keeps_the_fields(weekly):
    with pytest.raises(ValidationError) as error:
        services.edit_appointment(weekly, recurrence="FREQ=FORTNIGHTLY", subject="Renamed")

    assert "recurrence" in error.value.message_dict
    assert Appointment.objects.get(pk=weekly.pk).subject == "Stand-up"


def test_fields_and_a_new_rule_are_saved_together(weekly):
    services.edit_appointment(weekly, recurrence="FREQ=WEEKLY;COUNT=4;BYDAY=TU", subject="Tuesdays")

    after = Appointment.objects.get(pk=weekly.pk)
    assert after.subject == "Tuesdays"
    tuesday = FIRST + timedelta(days=1)
    expected = list(rrule(WEEKLY, byweekday=TU, count=4, dtstart=FIRST))
    assert expected[0] == tuesday
    assert starts(weekly) == expected


def test_an_overlap_the_new_rule_meets_keeps_nothing_of_the_edit(weekly, alice):
    tuesday = FIRST + timedelta(days=8)  # the second Tuesday
    services.create_appointment(subject="Busy", start=tuesday, end=tuesday + HOUR, agents=[alice])

    with pytest.raises(services.OverlapWarning):
        services.edit_appointment(
            weekly, recurrence="FREQ=WEEKLY;COUNT=4;BYDAY=TU", subject="Tuesdays", check_overlap=True
        )

    after = Appointment.objects.get(pk=weekly.pk)
    assert after.subject == "Stand-up" and rule_text(after) == RULE
    assert starts(weekly) == list(rrule(WEEKLY, byweekday=MO, count=6, dtstart=FIRST))
