"""A series' rule as people read it, and as the API writes it.

`rule_in_words` says an RRULE (RFC 5545 3.3.10) in plain words, as Outlook and Google do ("Every
2 weeks on Monday, until Mon 31 May 2027"): days of the series' own clock, the end as the day of
its last occurrence on the reader's clock and in the pages' date format, never UTC or ISO. A part
it cannot say in words is shown as the rule text, so nothing of the rule is hidden.
"""

import calendar
import copy
import itertools
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import recurrence as recurrence_lib
from django.utils import timezone

from calendars import times
from calendars.models import Appointment, Schedule
from calendars.selectors import schedule_zone
from calendars.times import zone_label
from helpdesk.moments import day_text, hours_text, when_text

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second to last"}
UNITS = {
    recurrence_lib.YEARLY: "year",
    recurrence_lib.MONTHLY: "month",
    recurrence_lib.WEEKLY: "week",
    recurrence_lib.DAILY: "day",
    recurrence_lib.HOURLY: "hour",
    recurrence_lib.MINUTELY: "minute",
    recurrence_lib.SECONDLY: "second",
}
WORKING_WEEK = [0, 1, 2, 3, 4]
# Occurrences walked to find a series' last one; a longer series is said without its last day.
MAX_WALK = 5000
# Parts said in words; any other part of a rule is shown as rule text.
SAID = {"freq", "interval", "count", "until", "byday", "bymonthday", "bymonth", "wkst"}


def rule_text(master: Appointment) -> str | None:
    """The series' rule as the API writes it and takes it back (POST and PATCH `recurrence`): one
    RRULE without its "RRULE:" prefix ("FREQ=WEEKLY;UNTIL=20270701T215959Z;BYDAY=MO", UNTIL in
    UTC), or "RRULE:" lines, EXRULE and RDATE lines too, when it has more. Its cancelled days (EXDATE) are
    not in it: they are the series' cancelled occurrences. None for anything but a master."""
    if not master.is_recurring_master:
        return None
    rule = master.schedule.recurrence
    # EXRULE lines are part of the rule (a client that sends back what it read keeps them).
    whole = recurrence_lib.Recurrence(
        rrules=rule.rrules, exrules=rule.exrules, rdates=rule.rdates, include_dtstart=False
    )
    lines = [line for line in recurrence_lib.serialize(whole).splitlines() if line]
    if len(lines) == 1 and lines[0].startswith("RRULE:"):
        return lines[0].removeprefix("RRULE:")
    return "\n".join(lines)


def _list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _every(rule: recurrence_lib.Rule) -> str:
    unit = UNITS[rule.freq]
    interval = rule.interval or 1
    return f"Every {unit}" if interval == 1 else f"Every {interval} {unit}s"


def _day_of_month(day: int) -> str:
    return "the last day" if day == -1 else f"day {day}" if day > 0 else f"day {-day} from the end"


def _weekday(day) -> str:
    name = WEEKDAYS[day.number]
    if day.index:
        return f"the {ORDINALS.get(day.index, f'{day.index}th')} {name}"
    return name


def _pattern(rule: recurrence_lib.Rule, first: datetime) -> str:
    """The repeat of one rule without its end; `first`: the series' start on its own clock,
    whose weekday and day stand in for the parts a rule leaves out (RFC 5545 3.3.10)."""
    days = [day.number for day in rule.byday if not day.index]
    interval = rule.interval or 1
    if rule.freq in (recurrence_lib.WEEKLY, recurrence_lib.DAILY) and days == WORKING_WEEK and interval == 1:
        return "Every working day (Monday to Friday)"
    words = _every(rule)
    if rule.freq == recurrence_lib.WEEKLY:
        return f"{words} on {_list([WEEKDAYS[n] for n in sorted(days or [first.weekday()])])}"
    if rule.byday:
        words += " on " + _list([_weekday(day) for day in rule.byday])
    if rule.freq == recurrence_lib.MONTHLY and not rule.byday:
        words += " on " + _list([_day_of_month(day) for day in rule.bymonthday or [first.day]])
    if rule.freq == recurrence_lib.YEARLY and not rule.byday:
        months = rule.bymonth or [first.month]
        days = rule.bymonthday or [first.day]
        words += " on " + _list([f"{day} {MONTHS[month - 1]}" for month in months for day in days])
    elif rule.bymonth:
        words += " in " + _list([MONTHS[month - 1] for month in rule.bymonth])
    if rule.freq in (recurrence_lib.DAILY, recurrence_lib.WEEKLY) and rule.bymonthday:
        words += " on " + _list([_day_of_month(day) for day in rule.bymonthday])
    return words


def _unsaid(rule: recurrence_lib.Rule) -> bool:
    """Does the rule hold a part `_pattern` does not say (BYSETPOS, BYHOUR, ...)?"""
    return any(value for name, value in vars(rule).items() if name not in SAID and value)


def _last_start(rule: recurrence_lib.Rule, first: datetime, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """The last start a bounded rule gives from `first` (aware, on `zone`), or None when it is
    too long to walk."""
    one = recurrence_lib.Recurrence(rrules=[rule], include_dtstart=False)
    local = first.replace(tzinfo=None)
    with timezone.override(zone):  # django-recurrence reads UNTIL in the current zone
        starts = list(itertools.islice(one.occurrences(dtstart=local), MAX_WALK + 1))
    if not starts or len(starts) > MAX_WALK:
        return None
    return starts[-1].replace(tzinfo=zone)


def _end(rule: recurrence_lib.Rule, first: datetime, zone, reader_zone) -> str:
    if not rule.count and not rule.until:
        return ""
    last = _last_start(rule, first, zone)
    day = day_text(last.astimezone(reader_zone)) if last else ""
    if rule.count:
        times = "once" if rule.count == 1 else f"{rule.count} times"
        return f", {times}" + (f" (the last on {day})" if day else "")
    return f", until {day}" if day else ", until " + day_text(rule.until.astimezone(reader_zone))


def rule_in_words(master: Appointment, *, reader_zone: zoneinfo.ZoneInfo) -> str:
    """How a series repeats, in plain words: "Every week on Monday and Wednesday, 09:00-09:30,
    until Wed 30 Jun 2027". Days and times are the series' own wall clock (it repeats there); a
    reader on another clock is told which ("on America/New_York time"). The end is the day of the
    last occurrence on the reader's clock (an all-day series': its day), in the pages' date format.
    A rule part with no words (BYSETPOS, BYHOUR, ...) is shown as the rule text after the words."""
    schedule: Schedule = master.schedule
    zone = schedule_zone(schedule)
    first = master.start.astimezone(zone)
    when = "all day" if master.all_day else hours_text(first, master.end.astimezone(zone))
    if master.all_day:
        # All-day occurrences are days (RFC 5545 DATE), the same days on every clock: said on the
        # series' own calendar, where they begin at midnight, not on the reader's (review fault 5).
        reader_zone = zone
    if not master.all_day and zone_label(zone) != zone_label(reader_zone):
        when += f" on {zone_label(zone)} time"
    texts = []
    for rule in schedule.recurrence.rrules:
        if rule.freq not in UNITS:
            texts.append(str(recurrence_lib.serialize(recurrence_lib.Recurrence(rrules=[rule]))))
            continue
        words = _pattern(rule, first)
        if _unsaid(rule):
            text = recurrence_lib.serialize(recurrence_lib.Recurrence(rrules=[rule])).removeprefix("RRULE:")
            words += f" (rule {text})"
        texts.append(f"{words}, {when}{_end(rule, first, zone, reader_zone)}")
    if schedule.recurrence.rdates:
        count = len(schedule.recurrence.rdates)
        texts.append("and on 1 more day" if count == 1 else f"and on {count} more days")
    return "; ".join(texts)


def dropped_exceptions_text(dropped: list[datetime], *, reader_zone: zoneinfo.ZoneInfo | None = None) -> str:
    """What a person hears when moving a series dropped some of its exceptions (the original starts
    `services.update_appointment` names in `dropped_exceptions`), on the reader's clock in the pages'
    format, e.g. "The series moved, but 2 occurrences cancelled or moved on their own (Mon 14 Dec
    2026 15:00, Mon 11 Jan 2027 15:00) no longer fall on the series at the new time: ..." """
    zone = reader_zone or timezone.get_current_timezone()
    days = ", ".join(when_text(moment, zone) for moment in dropped)
    count = f"{len(dropped)} occurrence{'s' if len(dropped) != 1 else ''}"
    return (
        f"The series moved, but {count} cancelled or moved on {'their' if len(dropped) != 1 else 'its'} own "
        f"({days}) no longer {'fall' if len(dropped) != 1 else 'falls'} on the series at the new time: "
        "those changes are dropped. Cancel or move them again if needed."
    )


@dataclass(frozen=True)
class SkippedMonths:
    """A monthly rule's days of the month that some months lack: RFC 5545 3.3.10 says a BYMONTHDAY
    (or DTSTART's day) "that does not exist in a month" is ignored, so a series on the 31st
    quietly has no occurrence in April. Valid, kept as given, but said when the series is made or
    its rule changed.

    `days`: the rule's days past the 28th (1-31); `months`: the first day of each month of the
    series' first year (twelve months from its first, on its own clock) that lacks one of them,
    up to the rule's end; `suggested_rule`: the same rule on the last day of every month
    (BYMONTHDAY=-1, RRULE text without "RRULE:"), when that is what the person likely meant (the
    31st, or a first day that is its month's last), else None."""

    days: tuple[int, ...]
    months: tuple[date, ...]
    suggested_rule: str | None

    def text(self, *, on_page: bool) -> str:
        """The warning a person reads; `on_page`: offer the page's Repeat choice, else the API rule."""
        days = _list([str(day) for day in self.days])
        months = _list([f"{MONTHS[month.month - 1]} {month.year}" for month in self.months])
        text = (
            f"This series repeats on day {days} of the month, which not every month has: such months are "
            f"skipped (RFC 5545 3.3.10). In its first year it has no occurrence on that day in {months}."
        )
        if self.suggested_rule:
            text += (
                ' For the last day of every month instead, choose Repeat "Every month, on its last day".'
                if on_page
                else f" For the last day of every month instead, send recurrence {self.suggested_rule}."
            )
        return text


def _month_after(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_length(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def _skipped_by(rule: recurrence_lib.Rule, first: datetime | date) -> SkippedMonths | None:
    """`SkippedMonths` of one RRULE from the series' first start (aware on its own clock, or a
    date for an all-day series), or None when it skips no month in its first year."""
    if rule.freq != recurrence_lib.MONTHLY or rule.byday or rule.bysetpos:
        return None
    day_one = first if not isinstance(first, datetime) else first.date()
    days = sorted(rule.bymonthday or [day_one.day])
    late = tuple(day for day in days if day > 28)
    if not late:
        return None
    month_one = day_one.replace(day=1)
    # The last month that counts: the year's, or the rule's end within it.
    last = _month_after(month_one, 11)
    text = recurrence_lib.serialize(recurrence_lib.Recurrence(rrules=[rule])).removeprefix("RRULE:")
    if rule.count:
        bound = _month_after(month_one, 12)
        bound = datetime.combine(bound, first.timetz()) if isinstance(first, datetime) else bound
        starts = times.rule_starts(first, [text], until=bound, until_included=False, limit=rule.count)
        if len(starts) >= rule.count:
            end = starts[-1] if not isinstance(starts[-1], datetime) else starts[-1].date()
            last = min(last, end.replace(day=1))
    if rule.until:
        until = rule.until
        if isinstance(first, datetime) and timezone.is_aware(until):
            until = until.astimezone(first.tzinfo)
        # A month counts when all of it is before the end: its missing day would have been given.
        until_day = until.date() if isinstance(until, datetime) else until
        last = min(last, _month_after(until_day + timedelta(days=1), -1))
    interval = rule.interval or 1
    months = []
    for step in range(0, 12, interval):
        month = _month_after(month_one, step)
        if month > last:
            break
        if rule.bymonth and month.month not in rule.bymonth:
            continue
        if any(day > _month_length(month) for day in late):
            months.append(month)
    if not months:
        return None
    suggested = None
    if len(days) == 1 and (days[0] == 31 or (days[0] == day_one.day == _month_length(day_one))):
        last_day = copy.copy(rule)
        last_day.bymonthday = [-1]
        suggested = recurrence_lib.serialize(recurrence_lib.Recurrence(rrules=[last_day])).removeprefix("RRULE:")
    return SkippedMonths(days=late, months=tuple(months), suggested_rule=suggested)


def skipped_months(master: Appointment) -> list[SkippedMonths]:
    """What a series' monthly rules skip in its first year (`SkippedMonths`, one per rule that
    skips a month), for the warning the page and the API give when a series is made or its rule
    changed; empty for a rule that skips nothing, or anything but a series' master."""
    if not master.is_recurring_master:
        return []
    zone = schedule_zone(master.schedule)
    first = master.start_date if master.all_day and master.start_date else master.start.astimezone(zone)
    found = (_skipped_by(rule, first) for rule in master.schedule.recurrence.rrules)
    return [one for one in found if one is not None]
