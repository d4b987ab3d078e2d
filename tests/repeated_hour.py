"""Entries on the autumn night of 2027 in Europe/Amsterdam (02:00-03:00 runs twice, +02:00 then
+01:00), with the UTC instants RFC 5545 3.3.5 and Python's PEP 495 `fold` give for them: what a
reader of anything the helpdesk writes must find (trial 2 fault N2)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

AMS = ZoneInfo("Europe/Amsterdam")

# name -> (start, end, start in UTC, end in UTC); fold=1 is the second 02:30 (+01:00).
CASES = {
    "ends in the repeated hour": (
        datetime(2027, 10, 31, 1, 30, tzinfo=AMS),  # +02:00
        datetime(2027, 10, 31, 2, 30, tzinfo=AMS, fold=1),  # +01:00: two real hours
        datetime(2027, 10, 30, 23, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
    ),
    "starts in the repeated hour": (
        datetime(2027, 10, 31, 2, 30, tzinfo=AMS, fold=1),
        datetime(2027, 10, 31, 3, 30, tzinfo=AMS),  # one real hour
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 2, 30, tzinfo=UTC),
    ),
}
