"""The span a synced entry covers, which decides whether a full listing of the window should show it."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from integrations.providers.base import RemoteEvent, RemoteOccurrence
from integrations.sync.mapping import span_of

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 3, 23, 9, tzinfo=AMSTERDAM)  # a Monday, a week before summer time


def series(rule: str, **fields) -> RemoteEvent:
    return RemoteEvent(
        start=START, end=START + timedelta(hours=1), time_zone="Europe/Amsterdam", rrules=[rule], **fields
    )


def test_a_counted_series_ends_with_its_last_occurrence_on_its_own_wall_clock():
    assert span_of(series("FREQ=WEEKLY;COUNT=3")) == (START, datetime(2026, 4, 6, 10, tzinfo=AMSTERDAM))


def test_a_series_until_a_day_ends_that_day():
    _start, end = span_of(series("FREQ=DAILY;UNTIL=20260325T235959Z"))

    assert end == datetime(2026, 3, 25, 10, tzinfo=AMSTERDAM)


def test_an_endless_series_has_no_end():
    assert span_of(series("FREQ=WEEKLY")) == (START, None)


def test_an_occurrence_moved_past_the_last_one_extends_the_series():
    moved_end = datetime(2026, 4, 20, 12, tzinfo=AMSTERDAM)
    event = series(
        "FREQ=WEEKLY;COUNT=2",
        overrides=[RemoteOccurrence(original_start=START, start=moved_end - timedelta(hours=1), end=moved_end)],
    )

    assert span_of(event)[1] == moved_end


def test_an_all_day_series_ends_at_midnight_after_its_last_day():
    event = RemoteEvent(start=date(2026, 3, 23), end=date(2026, 3, 24), all_day=True, rrules=["FREQ=DAILY;COUNT=2"])

    assert span_of(event)[1] == datetime(2026, 3, 25, tzinfo=UTC)


def test_a_series_moved_from_wednesday_to_thursday_with_its_byday_changes_its_rule_in_a_merge():
    """The three-way merge (`differing_fields`) reads the rule as changed when a series moves from a
    Wednesday to a Thursday and BYDAY=WE becomes BYDAY=TH (trial fault 1): each rule only names its
    own DTSTART's weekday, but from one DTSTART they give other days (RFC 5545 3.3.10), so the
    merge must send the new RRULE with the new DTSTART."""
    from integrations.sync.mapping import differing_fields

    zone = "Europe/Amsterdam"
    wednesday = datetime(2027, 2, 3, 10, tzinfo=ZoneInfo(zone))
    before = RemoteEvent(
        start=wednesday, end=wednesday + timedelta(hours=1), time_zone=zone, rrules=["FREQ=WEEKLY;BYDAY=WE;COUNT=4"]
    )
    thursday = wednesday + timedelta(days=1)
    after = RemoteEvent(
        start=thursday, end=thursday + timedelta(hours=1), time_zone=zone, rrules=["FREQ=WEEKLY;BYDAY=TH;COUNT=4"]
    )

    assert differing_fields(before, after) == ["start", "end", "rrules"]
    # The same rule spelt without its implied BYDAY still reads as the same (Exchange names the day).
    plain = RemoteEvent(
        start=thursday, end=thursday + timedelta(hours=1), time_zone=zone, rrules=["FREQ=WEEKLY;COUNT=4"]
    )
    assert differing_fields(plain, after) == []
