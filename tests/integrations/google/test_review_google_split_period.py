"""Review finding F11: a Google split copies the user's unmodelled recurrence lines (RDATE;VALUE=PERIOD)
to the new half while the old half keeps them: the extra occurrence is then on the calendar twice.
Each half keeps only the periods of its own part of the series (read by recurring-ical-events)."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.integrations.series import renamed_from_the_fourth
from tests.integrations.test_caldav_sync import pull

from .conftest import ALICE
from .test_google_sync import google_view, when

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _phone_series_with_periods(google, importing_google, tomorrow_9, *extra: datetime) -> list[datetime]:
    """A daily phone series of six with a one-hour extra period at each of `extra` (UTC), imported;
    returns the UTC starts shown in its week."""
    periods = ",".join(f"{moment:%Y%m%dT%H%M%SZ}/PT1H" for moment in extra)
    google.phone_insert(
        ALICE,
        summary="Consultation",
        start=when(tomorrow_9),
        end=when(tomorrow_9 + HOUR),
        recurrence=["RRULE:FREQ=DAILY;COUNT=6", f"RDATE;VALUE=PERIOD:{periods}"],
    )
    pull(importing_google)
    return [start.astimezone(UTC) for start, _end, _subject in google_view(google, *_week(tomorrow_9))]


def _week(tomorrow_9: datetime) -> tuple[datetime, datetime]:
    return tomorrow_9 - HOUR, tomorrow_9 + timedelta(days=7)


def test_a_split_phone_series_with_an_extra_period_start_shows_it_once(
    importing_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    extra = (tomorrow_9 + timedelta(days=1, hours=6)).astimezone(UTC)
    before = _phone_series_with_periods(google, importing_google, tomorrow_9, extra)
    assert before.count(extra) == 1  # recurring-ical-events reads the phone's series: once

    renamed_from_the_fourth(django_capture_on_commit_callbacks, "Consultation (new)")

    after = [start.astimezone(UTC) for start, _end, _subject in google_view(google, *_week(tomorrow_9))]
    assert after.count(extra) == 1, [e.get("recurrence") for e in google.events(ALICE)]


def test_a_split_gives_each_half_the_extra_periods_of_its_own_part(
    importing_google, google, tomorrow_9, django_capture_on_commit_callbacks
):
    early = (tomorrow_9 + timedelta(days=1, hours=6)).astimezone(UTC)  # before the fourth occurrence
    late = (tomorrow_9 + timedelta(days=4, hours=6)).astimezone(UTC)  # after it
    assert len(_phone_series_with_periods(google, importing_google, tomorrow_9, early, late)) == 8

    renamed_from_the_fourth(django_capture_on_commit_callbacks, "Consultation (new)")

    shown = [(start.astimezone(UTC), subject) for start, _end, subject in google_view(google, *_week(tomorrow_9))]
    assert [subject for start, subject in shown if start == early] == ["Consultation"], shown
    assert [subject for start, subject in shown if start == late] == ["Consultation (new)"], shown
    assert len(shown) == 8, shown  # six days and the two extra periods
