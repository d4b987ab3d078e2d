"""'This and following' on the pages and the API: an occurrence's edit page asks what the edit is
for (this occurrence, this and following, all), and the API's PATCH takes it as `scope`. Expected
starts: dateutil's expansion of the stored rules."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import WEEKLY, rrule, rrulestr

from calendars.models import Appointment
from calendars.series_words import rule_text
from tests.calendars.test_series_split import mondays_at_nine

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


def expansion(master: Appointment) -> list[datetime]:
    master = Appointment.objects.get(pk=master.pk)
    return list(rrulestr(rule_text(master), dtstart=master.start.astimezone(AMS)))


def shown_starts(master: Appointment) -> list[datetime]:
    rows = Appointment.objects.visible().filter(master=master).order_by("start").values_list("start", flat=True)
    return list(rows)


@pytest.fixture
def standup(alice) -> Appointment:
    """Mondays 09:00-09:30 Amsterdam from 4 Mar 2030, four times."""
    return mondays_at_nine(alice, "RRULE:FREQ=WEEKLY;COUNT=4")


def test_the_api_patch_of_an_occurrence_with_scope_following_answers_the_new_series(alice, api_client, standup):
    third = standup.occurrences.get(original_start=at(2030, 3, 18, 9))
    client = api_client(alice.user)

    refused = client.patch(f"/api/appointments/{standup.pk}/", {"scope": "following"}, format="json")
    answer = client.patch(
        f"/api/appointments/{third.pk}/",
        {"scope": "following", "subject": "Stand-up, new team", "confirm_overlap": True},
        format="json",
    )

    assert refused.status_code == 400 and "scope" in refused.json()
    assert answer.status_code == 200, answer.json()
    new = Appointment.objects.get(pk=answer.json()["id"])
    assert new.pk != standup.pk and answer.json()["recurrence"] == rule_text(new) == "FREQ=WEEKLY;COUNT=2"
    assert expansion(standup) == [at(2030, 3, 4, 9), at(2030, 3, 11, 9)]
    assert shown_starts(new) == [at(2030, 3, 18, 9), at(2030, 3, 25, 9)]
    assert answer.json()["subject"] == "Stand-up, new team"


def test_the_occurrence_page_asks_what_the_edit_is_for_and_splits_the_series(alice, page_client, standup):
    third = standup.occurrences.get(original_start=at(2030, 3, 18, 9))
    client = page_client(alice.user)

    page = client.get(f"/calendar/appointments/{third.pk}/").content.decode()
    assert 'name="scope"' in page and "This and following occurrences" in page
    assert "<legend>Save the changes for" in page  # a radio group with its name said (a fieldset's legend)

    response = client.post(
        f"/calendar/appointments/{third.pk}/",
        {
            "subject": "Stand-up",
            "start": "2030-03-18T10:00",
            "end": "2030-03-18T10:30",
            "agents": [alice.pk],
            "scope": "following",
            "confirm_overlap": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    new = Appointment.objects.exclude(pk=standup.pk).get(schedule__isnull=False)
    assert response["Location"] == f"/calendar/appointments/{new.pk}/"
    later = [s.replace(tzinfo=AMS) for s in rrule(WEEKLY, count=2, dtstart=datetime(2030, 3, 18, 10))]
    assert expansion(new) == shown_starts(new) == later
    assert shown_starts(standup) == [at(2030, 3, 4, 9), at(2030, 3, 11, 9)]


def test_an_occurrence_saved_for_itself_alone_stays_in_its_series(alice, page_client, standup):
    third = standup.occurrences.get(original_start=at(2030, 3, 18, 9))

    page_client(alice.user).post(
        f"/calendar/appointments/{third.pk}/",
        {"subject": "Stand-up", "start": "2030-03-18T10:00", "end": "2030-03-18T10:30", "agents": [alice.pk]},
    )

    assert Appointment.objects.filter(schedule__isnull=False).count() == 1
    assert shown_starts(standup)[2] == at(2030, 3, 18, 10)
    assert shown_starts(standup)[3] == at(2030, 3, 18, 9) + timedelta(weeks=1)
