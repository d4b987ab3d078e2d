"""The value ranges of an RRULE's parts (RFC 5545 3.3.10), checked before the rule is read.

dateutil and django-recurrence read some out-of-range values without a word (BYMONTHDAY=0 gives
occurrences RFC 5545 has no meaning for) and refuse others with their own text ("invalid interval
parameter: 0", "bysetpos must be between 1 and 366, ..."), which reached API callers as a bare
`non_field_errors` or a 500. Here each part is named with what it takes, in words.
"""

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar

# Set while a rule read from an external calendar (or a series' own rule kept as it is) is used:
# the range refusals below are for rules a person writes (review finding 4).
_kept_as_read: ContextVar[bool] = ContextVar("rules_kept_as_read", default=False)


@contextlib.contextmanager
def rules_kept_as_read() -> Iterator[None]:
    """Inside: the rules given are an external calendar's (or a series' own, unchanged), read as
    the rule reader (django-recurrence, dateutil) reads them, as the helpdesk always has; a rule a
    person writes is held to RFC 5545 3.3.10's ranges (`rule_part_problem`). A calendar's
    "BYMONTHDAY=0,15" (the 15th, as dateutil and Google read it) must keep importing and syncing."""
    token = _kept_as_read.set(True)
    try:
        yield
    finally:
        _kept_as_read.reset(token)


def checks_ranges() -> bool:
    """Are rules given now held to RFC 5545's ranges (a person's), not kept as read (`rules_kept_as_read`)?"""
    return not _kept_as_read.get()


# RFC 5545 3.3.10 "recur-rule-part": part -> (lowest, highest, what the numbers count). A signed
# part (the grammar's plus/minus) also takes -highest..-lowest; zero is never a value of one.
_NUMBERED = {
    "COUNT": (1, None, "the number of occurrences", False),
    "INTERVAL": (1, None, "how many periods (FREQ) apart the occurrences are", False),
    "BYSECOND": (0, 60, "seconds", False),
    "BYMINUTE": (0, 59, "minutes", False),
    "BYHOUR": (0, 23, "hours", False),
    "BYMONTHDAY": (1, 31, "days of the month", True),
    "BYYEARDAY": (1, 366, "days of the year", True),
    "BYWEEKNO": (1, 53, "weeks of the year", True),
    "BYMONTH": (1, 12, "months", False),
    "BYSETPOS": (1, 366, "positions in each period's set of occurrences", True),
}
_WEEKDAY = re.compile(r"^(?:[+-]?(\d{1,2}))?(MO|TU|WE|TH|FR|SA|SU)$")
_INTEGER = re.compile(r"^[+-]?\d{1,9}$")


_PROPERTY_NAME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9-]*:")


def rule_text_parts(text: str) -> list[tuple[str, str]]:
    """One RRULE or EXRULE value's parts (RFC 5545 3.3.10 "recur-rule-part", separated by ";"),
    with or without its property name ("RRULE:"), in the order written, as (NAME upper case,
    value as written, stripped); parts with no name left out. Text only: nothing is checked or
    read (icalendar's vRecur refuses a value it cannot read, and these callers must name it in
    words or keep it as written). The one splitter for rule text."""
    value = _PROPERTY_NAME.sub("", text, count=1)
    parts = []
    for part in value.split(";"):
        name, _, given = part.partition("=")
        if name.strip():
            parts.append((name.strip().upper(), given.strip()))
    return parts


def _takes(low: int, high: int | None, signed: bool) -> str:
    if high is None:
        return f"a whole number from {low}"
    if signed:
        return f"whole numbers from {low} to {high} or from -{high} to -{low}"
    return f"whole numbers from {low} to {high}"


def rule_part_problem(text: str) -> str | None:
    """What is wrong with the numbered parts of one RRULE or EXRULE value (RFC 5545 3.3.10, with
    or without its "RRULE:" name), in words naming the part and the values it takes, or None
    when every part named in `_NUMBERED` and BYDAY is in range. Parts not named here (FREQ, UNTIL,
    WKST, unknown ones) are left to the rule's reader. A rule in range that the rule store cannot
    keep is named too (`storage_problem`). Pure: text in, text out."""
    for name, given in rule_text_parts(text):
        if name == "BYDAY":
            problem = _weekday_problem(given)
            if problem:
                return problem
            continue
        if name not in _NUMBERED:
            continue
        low, high, what, signed = _NUMBERED[name]
        single = name in ("COUNT", "INTERVAL")
        for number in [given] if single else given.split(","):
            number = number.strip()
            fits = bool(_INTEGER.match(number))
            if fits:
                magnitude = int(number)
                if signed:
                    magnitude = abs(magnitude)
                elif number.startswith("-"):
                    fits = False
                fits = fits and magnitude >= low and (high is None or magnitude <= high)
            if not fits:
                takes = _takes(low, high, signed)
                return f"{name} is {what}: it takes {takes} (RFC 5545 3.3.10), not “{number[:20]}”."
    return storage_problem(text)


def storage_problem(text: str) -> str | None:
    """Why a rule within RFC 5545's ranges (`rule_part_problem` found nothing) still cannot be
    stored by django-recurrence, in words, or None. Its validator takes BYMONTHDAY from -4 to 31
    and BYSECOND from 0 to 59 (recurrence.base.validate)."""
    for name, given in rule_text_parts(text):
        numbers = [int(n) for n in given.split(",") if _INTEGER.match(n.strip())]
        if name == "BYMONTHDAY" and any(n < -4 for n in numbers):
            return (
                "BYMONTHDAY below -4 cannot be stored: the helpdesk keeps days of the month counted back from its "
                "end only to -4 (the 4th-last day); give the days counted from the start (1 to 31)."
            )
        if name == "BYSECOND" and any(n > 59 for n in numbers):
            return "BYSECOND 60 (a leap second) cannot be stored: give seconds from 0 to 59."
    return None


def _weekday_problem(given: str) -> str | None:
    """BYDAY: weekdays (MO..SU), each with an optional signed week number 1 to 53."""
    for day in given.split(","):
        found = _WEEKDAY.match(day.strip().upper())
        if found and (found.group(1) is None or 1 <= int(found.group(1)) <= 53):
            continue
        return (
            "BYDAY is days of the week: MO, TU, WE, TH, FR, SA or SU, each with an optional week number "
            f"from 1 to 53 or -53 to -1 before it (2MO, -1FR; RFC 5545 3.3.10), not “{day.strip()[:20]}”."
        )
    return None


def rule_combination_problem(text: str) -> str | None:
    """What RFC 5545 3.3.10 forbids in the parts of one RRULE value given FREQ (its MUST NOTs), in
    words, or None. For a rule a person writes (the API's `recurrence`, the admin's rule): readers
    such as dateutil ignore or bend these parts instead of refusing them, so the series made
    would not be the one meant. Rules read from external calendars are not held to this (their
    occurrences are what that calendar shows). Pure: text in, text out."""
    parts = {name: given.upper() for name, given in rule_text_parts(text)}
    freq = parts.get("FREQ", "")
    numbered_days = [day for day in parts.get("BYDAY", "").split(",") if day.strip()[:1] in "+-0123456789"]
    numbered_days = [day for day in numbered_days if day.strip()]
    if numbered_days and freq not in ("MONTHLY", "YEARLY"):
        return (
            f"a numbered weekday ({numbered_days[0]}) is for FREQ=MONTHLY or YEARLY (the 2nd Monday of a month "
            f"or year); with FREQ={freq} give the weekdays alone (BYDAY=MO) (RFC 5545 3.3.10)."
        )
    if numbered_days and "BYWEEKNO" in parts:
        return "a numbered weekday cannot be given with BYWEEKNO: give the weekdays alone (RFC 5545 3.3.10)."
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        return "BYMONTHDAY is not for FREQ=WEEKLY: use FREQ=MONTHLY for days of the month (RFC 5545 3.3.10)."
    if "BYYEARDAY" in parts and freq in ("DAILY", "WEEKLY", "MONTHLY"):
        return f"BYYEARDAY is not for FREQ={freq}: use FREQ=YEARLY for days of the year (RFC 5545 3.3.10)."
    if "BYWEEKNO" in parts and freq != "YEARLY":
        return f"BYWEEKNO is not for FREQ={freq}: use FREQ=YEARLY for weeks of the year (RFC 5545 3.3.10)."
    others = {name for name in parts if name.startswith("BY") and name != "BYSETPOS"}
    if "BYSETPOS" in parts and not others:
        return (
            "BYSETPOS picks from the occurrences another BY part gives (BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1: the "
            "last weekday); give one with it (RFC 5545 3.3.10)."
        )
    return None


def written_rule_problem(text: str) -> str | None:
    """`rule_combination_problem` of each RRULE or EXRULE line of a rule a person wrote (one rule
    a line, the "RRULE:" name optional), as the sentence a form or the API answers, or None."""
    for line in text.strip().splitlines():
        name = line.split(":", 1)[0].strip().upper() if ":" in line else "RRULE"
        problem = rule_combination_problem(line) if name in ("RRULE", "EXRULE") else None
        if problem:
            return f"The recurrence rule is not valid: {problem}"
    return None
