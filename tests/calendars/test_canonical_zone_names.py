"""A zone name we rewrite to the tz database's current name must name the same clock: zoneinfo
(the tz database itself) is the oracle, week by week from 1970 (zic's own criterion for a link
being an alias) to 2037. Review F8: tzdata 2024b made "WET" a link to "Europe/Lisbon", which kept
CET in 1992-96, so a past entry on TZID "WET" would have moved by an hour."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from calendars.times import canonical_zone_name

WEEKS = [datetime(1970, 1, 1, 12, tzinfo=UTC) + timedelta(weeks=n) for n in range(0, 68 * 52, 1)]


def _offsets(name: str) -> list:
    zone = ZoneInfo(name)
    return [moment.astimezone(zone).utcoffset() for moment in WEEKS]


def test_every_name_we_rewrite_keeps_its_clock_since_1970():
    changed = {name: canonical_zone_name(name) for name in available_timezones() - {"localtime", "Factory"}}
    changed = {name: target for name, target in changed.items() if target != name}

    assert changed["US/Eastern"] == "America/New_York" and changed["Asia/Calcutta"] == "Asia/Kolkata"
    drifting = [name for name, target in changed.items() if _offsets(name) != _offsets(target)]
    assert drifting == []


def test_posix_style_names_are_kept_as_written():
    assert [canonical_zone_name(name) for name in ("WET", "CET", "EST", "EST5EDT", "MST7MDT")] == [
        "WET",
        "CET",
        "EST",
        "EST5EDT",
        "MST7MDT",
    ]
