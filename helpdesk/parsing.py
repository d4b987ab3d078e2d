"""The one reading of the small values people type or put in links, for pages, forms and the
API alike: database ids (`?agent=3`) and colours. Each refusal names the value refused."""

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

# The largest id the databases we run on hold in a signed 64-bit integer column, kept clear of
# the edge (an id given by hand past it is a typo, not a row).
MAX_ID = 2**62
_DIGITS = re.compile(r"[0-9]+")
_SIGNED_DIGITS = re.compile(r"[+-]?[0-9]+")
# What a value shows of itself in a message: enough to find the typo, not a page of input.
_SHOWN = 40

# A colour as HTML's <input type="color"> writes it (WHATWG HTML, "valid simple colour": "#"
# and six ASCII hex digits), the only form the pages' style attributes take.
colour_validator = RegexValidator(
    r"^#[0-9a-fA-F]{6}\Z",
    "%(value)s is not a colour: write it as #rrggbb, for example #1e88e5.",
    code="invalid_colour",
)


def shown_text(value: object) -> str:
    """`value` as a message quotes it: its first characters, "…" after a longer one (external text)."""
    text = str(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def is_whole_number(text: str, *, signed: bool = False) -> bool:
    """Is `text` a whole number written in ASCII digits ("42"; with `signed`, also "-5" and "+5",
    one sign at most)? str.isdigit() also takes "²" (which int() refuses: a 500 on a link or a
    crash on a header) and "٣" (read as 3), and lstrip("-") takes "--5"; external text and what
    people type are checked with this instead."""
    return (_SIGNED_DIGITS if signed else _DIGITS).fullmatch(text) is not None


def parse_id(value: object, *, name: str = "the id") -> int:
    """A database id from text (or an int): ASCII digits, 1 to MAX_ID, spaces around allowed.
    `name` is what the id is given as ("agent", a query parameter's name), for the message.

    Raises ValidationError('"x" is not an id: give agent as whole numbers from 1.'), code
    "invalid", for anything else (signs, other digits than 0-9, "1.0", 0, too large)."""
    text = str(value).strip() if not isinstance(value, bool) else ""
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
        raise ValidationError(
            '"%(value)s" is not an id: give %(name)s as whole numbers from 1.',
            code="invalid",
            params={"value": shown_text(value), "name": name},
        )
    return int(text)


def parse_ids(values: Iterable[object], *, name: str = "the ids") -> list[int]:
    """`parse_id` of each value, in order; empty values are skipped. Raises one ValidationError
    naming every value that is not an id."""
    ids, problems = [], []
    for value in values:
        if str(value).strip() == "":
            continue
        try:
            ids.append(parse_id(value, name=name))
        except ValidationError as error:
            problems.extend(error.error_list)
    if problems:
        raise ValidationError(problems)
    return ids
