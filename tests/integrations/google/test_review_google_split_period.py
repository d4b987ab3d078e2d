"""Review finding F11: a Google split copies the user's unmodelled recurrence lines (RDATE;VALUE=PERIOD)
to the new half while the old half keeps them: the extra occurrence is then on the calendar twice."""

from datetime import UTC, timedelta

import pytest

from tests.integrations.series import renamed_from_the_fourth
from tests.integrations.test_caldav_sync import pull

from .conftest import ALICE
from .test_google_sync import google_view, when

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def test_a_split_phone_series_with_an_extra_period_start_shows_it_once(
    importing_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    extra = (tomorrow_9 + timedelta(days=1, hours=6)).astimezone(UTC)
    period = f"RDATE;VALUE=PERIOD:{extra:%Y%m%dT%H%M%SZ}/PT1H"
    google.phone_insert(
        ALICE,
        summary="Consultation",
        start=when(tomorrow_9),
        end=when(tomorrow_9 + HOUR),
        recurrence=["RRULE:FREQ=DAILY;COUNT=6", period],
    )
    pull(importing_google)
    window = (tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=7))
    before = [start.astimezone(UTC) for start, _end, _subject in google_view(google, *window)]
    assert before.count(extra) == 1  # recurring-ical-events reads the phone's series: once

    renamed_from_the_fourth(django_capture_on_commit_callbacks, "Consultation (new)")

    after = [start.astimezone(UTC) for start, _end, _subject in google_view(google, *window)]
    assert after.count(extra) == 1, [e.get("recurrence") for e in google.events(ALICE)]
