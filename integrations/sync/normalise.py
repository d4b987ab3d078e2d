"""What calendar systems rewrite, normalised in one place before anything is compared.

Pure functions of text, no Django: the engine's content hash, the inbound writes and the
providers' merge updates all compare through these, so a form one system writes and another
rewrites (an HTML body, CRLF, trailing spaces, RRULE part order and defaults, UNTIL forms) is
never taken for a change.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HTML_START = re.compile(r"^\s*(<!doctype|<html|<body|<div|<p[\s>]|<span|<br)", re.IGNORECASE)
_HTML_BREAKS = re.compile(r"<br\s*/?>|</p>|</div>", re.IGNORECASE)
_HTML_TAGS = re.compile(r"<(script|style|head)[^>]*>.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def html_to_text(value: str) -> str:
    """An HTML body's text: line breaks for <br>, </p> and </div>, tags (and scripts, styles,
    heads) dropped, entities decoded, no-break spaces as spaces."""
    return html.unescape(_HTML_TAGS.sub("", _HTML_BREAKS.sub("\n", value))).replace("\xa0", " ")


def normalise_text(value: str | None, *, is_html: bool = False) -> str:
    """Text as a person reads it: an HTML body (Outlook writes those) as its text, CRLF as LF,
    no trailing spaces on a line, no blank lines around it. `is_html`: the system says the text
    is HTML (EWS BodyType="HTML"); otherwise HTML is recognised by its opening tag."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    if is_html or _HTML_START.match(text):
        text = html_to_text(text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def same_text(a: str | None, b: str | None) -> bool:
    return normalise_text(a) == normalise_text(b)


def normalise_rrule(rule: str) -> str:
    """An RRULE value (no "RRULE:" prefix), parts upper-cased and sorted: the form we send."""
    rule = rule.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    return ";".join(sorted(part.strip().upper() for part in rule.split(";") if part.strip()))


# RFC 5545 3.3.10 defaults: a part holding its default says nothing, so Exchange adding INTERVAL=1
# or a client adding WKST=MO is not a change.
_RRULE_DEFAULTS = {"INTERVAL": "1", "WKST": "MO"}


def rrule_key(rule: str, time_zone: str = "UTC") -> str:
    """An RRULE in the form two systems agree on when they mean the same series: parts in one
    order, defaults dropped, list values sorted, UNTIL as the date it falls on in the series' zone
    (Exchange keeps only an end date; others write a date, a local or a UTC date-time)."""
    parts = {}
    for part in normalise_rrule(rule).split(";"):
        name, _, value = part.partition("=")
        if _RRULE_DEFAULTS.get(name) == value:
            continue
        if "," in value:
            value = ",".join(sorted(value.split(",")))
        if name == "UNTIL":
            value = _until_date(value, time_zone)
        parts[name] = value
    return ";".join(f"{name}={parts[name]}" for name in sorted(parts))


def _until_date(value: str, time_zone: str) -> str:
    if "T" not in value:
        return value[:8]
    if value.endswith("Z"):
        try:
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return moment.astimezone(ZoneInfo(time_zone)).strftime("%Y%m%d")
        except (ValueError, ZoneInfoNotFoundError):
            return value[:8]
    return value[:8]
