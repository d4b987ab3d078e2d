"""A series' rule moved to other days with its start, as Outlook and Google move a series.

A series whose first start moves to another weekday or day of the month keeps repeating from
the new start only when its rule gives that start (RFC 5545 3.8.5.3: DTSTART is the first
instance; a DTSTART out of step with its RRULE gives an undefined set). `shifted_rule` rewrites
the rule's day parts by the same number of days, so the whole series moves. Pure: no query.
"""

import calendar
import copy
from datetime import date, datetime

import recurrence as recurrence_lib
from django.core.exceptions import ValidationError

_MONDAY = 0


def shifted_rule(rule: recurrence_lib.Recurrence, before: date, after: date) -> recurrence_lib.Recurrence:
    """`rule` (django-recurrence) rewritten for a series whose first start moved from the day
    `before` to the day `after` (days on the series' wall clock; a timed start's date there):

    - BYDAY without an ordinal (weekly, or every such weekday): every weekday shifted by the
      same number of days (BYDAY=MO,WE moved a day later: TU,TH); a weekly rule with INTERVAL > 1
      gets its WKST shifted too, so the days that fell in one week still do;
    - BYDAY with an ordinal (monthly, yearly): one entry becomes the new start's weekday at its
      place in the month, counted from the same end (-1FR moved a day earlier: -1TH); several are
      shifted by weekday and keep their ordinals;
    - BYMONTHDAY: one entry becomes the new start's day (counted from the same end of the month);
      several are shifted by the same number of days;
    - BYMONTH: shifted by the same number of months (a yearly rule's month and day move together).

    Other parts (FREQ, INTERVAL, COUNT, UNTIL, BYSETPOS, ...) and the RDATEs stay; the EXDATEs
    are left out (the caller moves the cancelled starts with the series). Raises ValidationError
    ({"start": ...}) when a shifted day does not exist (BYMONTHDAY=28,31 moved three days later).
    A rule whose days follow its start (no BY part) comes back unchanged in its parts."""
    days = (after - before).days
    months = (after.year - before.year) * 12 + after.month - before.month
    return recurrence_lib.Recurrence(
        rrules=[_shifted(line, days, months, after) for line in rule.rrules],
        exrules=[_shifted(line, days, months, after) for line in rule.exrules],
        rdates=list(rule.rdates),
        include_dtstart=False,
    )


def same_pattern(one: recurrence_lib.Recurrence, other: recurrence_lib.Recurrence) -> bool:
    """Whether two rules repeat on the same days, their ends (COUNT, UNTIL) aside: a rule sent back
    with only its end changed still follows a series' move."""

    def days_of(rule: recurrence_lib.Recurrence) -> list[str]:
        lines = []
        for line in rule.rrules:
            plain = copy.copy(line)
            plain.until = plain.count = None
            lines.append(recurrence_lib.serialize(recurrence_lib.Recurrence(rrules=[plain])))
        return lines

    return days_of(one) == days_of(other)


def _shifted(line: recurrence_lib.Rule, days: int, months: int, after: date) -> recurrence_lib.Rule:
    moved = copy.copy(line)
    indexed = [day for day in line.byday if day.index]
    if days and len(line.byday) == 1 and indexed:  # a week on, the second Tuesday is the third
        moved.byday = [recurrence_lib.Weekday(after.weekday(), _ordinal(after, negative=indexed[0].index < 0))]
    elif days % 7 and line.byday:
        moved.byday = [recurrence_lib.Weekday((day.number + days) % 7, day.index) for day in line.byday]
        if line.freq == recurrence_lib.WEEKLY and (line.interval or 1) > 1:
            # The weeks INTERVAL counts start on WKST (RFC 5545 3.3.10, default MO): shifted with
            # the days, the days that shared a week still do.
            start_of_week = _MONDAY if line.wkst is None else int(line.wkst)
            moved.wkst = (start_of_week + days) % 7
    if days and line.bymonthday:
        if len(line.bymonthday) == 1:
            negative = line.bymonthday[0] < 0
            moved.bymonthday = [after.day - _month_length(after) - 1 if negative else after.day]
        else:
            moved.bymonthday = [_day_shifted(day, days) for day in line.bymonthday]
    if months and line.bymonth:
        moved.bymonth = sorted((month - 1 + months) % 12 + 1 for month in line.bymonth)
    return moved


def _ordinal(day: date, *, negative: bool) -> int:
    """Which of its weekday in its month `day` is: 1..5 from the start, -1..-5 from the end."""
    if negative:
        return -((_month_length(day) - day.day) // 7 + 1)
    return (day.day - 1) // 7 + 1


def _month_length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _day_shifted(day: int, days: int) -> int:
    moved = day + days
    if (day > 0 and 1 <= moved <= 31) or (day < 0 and -31 <= moved <= -1):
        return moved
    raise ValidationError(
        {
            "start": f"The series repeats on day {day} of the month, which moved {days:+d} days is no day of a "
            "month: change the series' days (Repeat) along with its start."
        }
    )


def wall_day(moment: datetime | date, zone) -> date:
    """The day `moment` falls on at the series' wall clock `zone` (a date stays itself)."""
    return moment.astimezone(zone).date() if isinstance(moment, datetime) else moment
