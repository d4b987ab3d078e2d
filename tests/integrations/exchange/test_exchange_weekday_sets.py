"""EWS DayOfWeekType has three set values besides the seven days: `Day` (every day), `Weekday`
(Monday to Friday) and `WeekendDay` (Saturday and Sunday) (EWS reference, "DaysOfWeek" and
"DayOfWeekIndex" / DayOfWeekType). Outlook may write a weekly pattern's days as `Weekday`, which
exchangelib 5.6 reads as no days at all (its WeeklyPattern enumerates only the seven names): the
series was marked unreadable (trial fault). We read each set as the EWS reference defines it; the
expected occurrences come from dateutil's RFC 5545 expansion of the days named there, never from
our mapping; and we write plain day names only."""

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import FR, MO, SA, SU, TH, TU, WE, WEEKLY, rrule, rrulestr

from integrations.providers.base import RemoteEvent, RemoteRef
from tests.peers.ews import Recurrence

from .conftest import ALICE

FIRST = datetime(2027, 1, 4, 9, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)

# The EWS reference's meaning of each set value.
EWS_DAY_SETS = {
    "Weekday": (MO, TU, WE, TH, FR),
    "WeekendDay": (SA, SU),
    "Day": (MO, TU, WE, TH, FR, SA, SU),
}


def dateutil_starts(days) -> list[datetime]:
    """The right occurrences: dateutil's RFC 5545 expansion of a weekly rule on `days`, 10 times."""
    return list(rrule(WEEKLY, dtstart=FIRST, byweekday=days, count=10, wkst=MO))


@pytest.mark.parametrize(
    ("names", "days"),
    [
        (["Weekday"], EWS_DAY_SETS["Weekday"]),
        (["WeekendDay"], EWS_DAY_SETS["WeekendDay"]),
        (["Day"], EWS_DAY_SETS["Day"]),
        (["Wednesday", "WeekendDay"], (WE, *EWS_DAY_SETS["WeekendDay"])),
    ],
)
def test_an_outlook_weekly_series_on_a_set_of_days_is_read_as_those_days(provider, calendar, ews, names, days):
    recurrence = Recurrence("WeeklyRecurrence", days_of_week=names, range="NumberedRecurrence", count=10)
    item_id = ews.outlook_create(
        ALICE, subject="Rota", start=FIRST, end=FIRST + HOUR, time_zone="UTC", recurrence=recurrence
    )

    event = provider.get(calendar, RemoteRef(item_id))

    [rule] = event.rrules
    assert list(rrulestr(rule, dtstart=event.start)) == dateutil_starts(days)
    assert ews.calendar_view(ALICE, FIRST, FIRST + timedelta(days=30))  # the peer expands it too


def test_a_weekday_series_is_written_back_with_plain_day_names(provider, calendar, ews):
    """A helpdesk series on Monday to Friday goes to Exchange as the five names, never `Weekday`
    (exchangelib's WeeklyPattern knows only the seven names; older servers refuse the set)."""
    event = RemoteEvent(
        start=FIRST,
        end=FIRST + HOUR,
        subject="Rota",
        rrules=["FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10"],
        time_zone="UTC",
    )

    ref = provider.create(calendar, event)

    assert ews.item(ALICE, ref.remote_id).recurrence.days_of_week == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
    ]
