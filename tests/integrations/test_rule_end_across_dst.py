"""The end of a series' occurrence "as the rule gives it" on the autumn night (task autumn, fault 3):
RFC 5545 3.8.5.3 gives every instance the exact duration DTEND - DTSTART. With the series read on
its zone (Europe/Amsterdam, as CalDAV and Graph reads give it), Python's wall-clock arithmetic made
the 31 Oct 2027 occurrence of a 01:30-03:30 series end at 03:30+01:00 (three real hours), so an
override that only repeats the rule's occurrence (RFC 5545 3.8.4.4) counted as a change of its own.
Expected: zoneinfo's instants."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from integrations.providers.base import RemoteEvent, RemoteOccurrence
from integrations.sync.mapping import content_hash
from integrations.sync.normalise import override_items, rrule_end

AMS = ZoneInfo("Europe/Amsterdam")
FIRST = datetime(2027, 10, 24, 1, 30, tzinfo=AMS)  # a Sunday, +02:00
NIGHT = datetime(2027, 10, 31, 1, 30, tzinfo=AMS)  # a week later, the autumn night, still +02:00
# Two exact hours after it: 01:30 UTC, the second 02:30 on the wall clock (+01:00).
NIGHT_END = (NIGHT.astimezone(UTC) + timedelta(hours=2)).astimezone(AMS)


def _series(*overrides: RemoteOccurrence) -> RemoteEvent:
    return RemoteEvent(
        start=FIRST,
        end=FIRST + timedelta(hours=2),  # no change that night: 03:30+02:00
        subject="Backup",
        time_zone="Europe/Amsterdam",
        rrules=["FREQ=WEEKLY;COUNT=4"],
        overrides=list(overrides),
    )


def test_the_rule_end_of_the_autumn_night_occurrence_is_two_real_hours_on():
    # The second 02:30 (same-zone comparison ignores PEP 495's fold, so the offset is checked).
    assert (NIGHT_END.replace(tzinfo=None), NIGHT_END.utcoffset()) == (
        datetime(2027, 10, 31, 2, 30),
        timedelta(hours=1),
    )
    assert rrule_end(NIGHT, _series()) == rrule_end(NIGHT.astimezone(UTC), _series())
    assert rrule_end(NIGHT, _series()) == "T" + NIGHT_END.astimezone(UTC).isoformat()


def test_an_override_that_repeats_the_rule_on_the_autumn_night_is_no_change():
    same = RemoteOccurrence(original_start=NIGHT, start=NIGHT, end=NIGHT_END)

    assert override_items(_series(same)) == {}
    assert content_hash(_series(same)) == content_hash(_series())
