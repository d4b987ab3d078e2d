"""What a conflict rule overwrote, in plain words for the sync log (SPEC S3.8).

`mapping.lost_values` gives the losing side's values as plain data (the log entry's `overwritten`
JSON); `describe` turns them into the sentence a technician or an admin reads next to the entry:
"Overwritten in the external calendar: subject '#11 renamed on phone', location 'Room 1'." A
private entry's texts are never written out (S2.5, S5): the caller passes the values already
masked (`privacy.masked_values`) and `private=True`, and the sentence names the field only.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from helpdesk.moments import day_text, history_moment, when_text
from integrations.sync import mapping

HELPDESK = "helpdesk"
EXTERNAL = "external"

# The order fields are named in, with their words per side (the helpdesk says "note" for the
# external calendar's description).
_FIELDS = (
    ("subject", "subject", "subject"),
    ("start", "start", "start"),
    ("end", "end", "end"),
    ("all_day", "all day", "all day"),
    ("location", "location", "location"),
    ("body", "note", "description"),
    ("private", "private", "private"),
    ("busy", "shown as", "shown as"),
    ("rrules", "repeat rule", "repeat rule"),
    ("exdates", "left-out dates", "left-out dates"),
    ("overrides", "occurrences changed on their own:", "occurrences changed on their own:"),
)
_TEXT_KEYS = ("subject", "location", "body")
_OPENING = "Overwritten in "
_MAX_TEXT = 200  # characters of one text quoted in the sentence; the JSON keeps the whole value


def describe(values: dict | None, *, side: str, zone: str | None, private: bool) -> str:
    """The sentence saying what a conflict overwrote on `side` (HELPDESK or EXTERNAL): each field of
    `values` (`mapping.lost_values`' shape: "start"/"end" and the dates as the snapshot's tagged
    moments, texts, flags, RRULE texts, overrides) with the value the losing side had. Times are
    shown on the wall clock of `zone` (an IANA name: the technician's), dates as dates; with zone
    None (a request's history) each instant is marked (helpdesk.moments.history_moment), to be
    written on each reader's clock. With `private` the texts are not quoted. Empty string when
    nothing was overwritten."""
    if not values:
        return ""
    where = "the helpdesk" if side == HELPDESK else "the external calendar"
    tz = ZoneInfo(zone) if zone else None
    parts = []
    for key, helpdesk_word, external_word in _FIELDS:
        if key not in values:
            continue
        word = helpdesk_word if side == HELPDESK else external_word
        parts.append(f"{word} {_value(key, values[key], tz, private=private)}")
    return f"{_OPENING}{where}: {', '.join(parts)}." if parts else ""


def field_words(fields, *, side: str) -> str:
    """The names of `fields` (`mapping.FIELDS`) as `side` (HELPDESK or EXTERNAL) calls them, in the
    log's order and joined for a sentence: "start, end and note"."""
    words = []
    for key, helpdesk_word, external_word in _FIELDS:
        word = (helpdesk_word if side == HELPDESK else external_word).rstrip(":").replace(" on their own", "")
        if key in fields and word not in words:
            words.append(word)
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def merged_message(*, from_remote, from_helpdesk, contested, side: str) -> str:
    """The log's sentence for a merge of an entry both sides changed (planner.merge_fields), from
    `side`'s log entry (EXTERNAL: the push's, HELPDESK: the pull's): which fields came from which
    side, and which fields both changed, decided by the conflict rule. "Both sides changed since the
    last sync; merged field by field: start and end from the external calendar, note from the
    helpdesk." followed by "Both changed start: the helpdesk's version won." when contested."""
    kept = []
    if from_remote - contested:
        kept.append(f"{field_words(from_remote - contested, side=side)} from the external calendar")
    if from_helpdesk - contested:
        kept.append(f"{field_words(from_helpdesk - contested, side=side)} from the helpdesk")
    said = "Both sides changed since the last sync; merged field by field"
    said += f": {', '.join(kept)}." if kept else "."
    if contested:
        winner = "the helpdesk's" if contested <= from_helpdesk else "the external calendar's"
        said += f" Both changed {field_words(contested, side=side)}: {winner} version won."
    return said


def first_sight_message(*, contested, helpdesk_won: bool, side: str) -> str:
    """The log's sentence for an entry both sides changed that had no last synced state to merge
    against (`planner.first_sight`), from `side`'s log entry (EXTERNAL: the push's, HELPDESK: the
    pull's): "No last synced state to compare with; compared field by field: start and end
    differed, the helpdesk's version kept. Stored now: the next change merges field by field."
    `contested`: the fields that differed (`mapping.FIELDS` names), `helpdesk_won`: whose values
    were kept (the conflict rule's choice)."""
    said = "No last synced state to compare with; compared field by field"
    if contested:
        winner = "the helpdesk's" if helpdesk_won else "the external calendar's"
        said += f": {field_words(contested, side=side)} differed, {winner} version kept"
    return f"{said}. Stored now: the next change merges field by field."


_ITEM_WORDS = {"exdates": "cancelled", "overrides": "changed on its own"}


def changes_message(before, after, *, where: str, zone: str) -> str:
    """The log's sentence for a change pulled from the external calendar with no conflict: which
    fields `after` (the entry now) changed from `before` (as last synced), in the helpdesk's
    words, and each occurrence of a series cancelled, changed on its own or put back there, by
    its original start on the wall clock of `zone` (an IANA name: the technician's). `where`:
    whose calendar ("Alice's calendar"). "Changed in Alice's calendar: start and end; the
    occurrence of Tue 30 Mar 2027 08:00 changed on its own, the occurrence of Wed 31 Mar 2027
    09:00 cancelled." Texts are never quoted (a private entry's stay unsaid). Empty string when
    nothing a person sees changed."""
    fields = [name for name in mapping.differing_fields(before, after) if name not in ("exdates", "overrides")]
    had, has = mapping.exception_items(before), mapping.exception_items(after)
    tz = ZoneInfo(zone)
    # An exception the entry no longer names whose day the new rule no longer gives went with the
    # rule's change (task push 2), which is not the occurrence put back.
    unnamed = [key for key in had if key not in has]
    given = mapping.names_instances(after, [mapping.moment_from_data(key) for key in unnamed]) if unnamed else []
    dropped = {key for key, named in zip(unnamed, given or [True] * len(unnamed), strict=True) if not named}
    occurrences = []
    for key in sorted(set(had) | set(has)):
        if had.get(key) == has.get(key):
            continue
        now = has.get(key)
        if key in dropped:
            what = "gone with the series' new rule"
        else:
            what = "back as the series has it" if now is None else _ITEM_WORDS[now[0]]
        occurrences.append(f"the occurrence of {_moment(key, tz)} {what}")
    if len(occurrences) > _MAX_OCCURRENCES:
        occurrences = [*occurrences[:_MAX_OCCURRENCES], f"and {len(occurrences) - _MAX_OCCURRENCES} more"]
    parts = [field_words(fields, side=HELPDESK)] if fields else []
    if occurrences:
        parts.append(", ".join(occurrences))
    return f"Changed in {where}: {'; '.join(parts)}." if parts else ""


def restate(message: str, values: dict | None, *, side: str, zone: str, private: bool) -> str:
    """`message` (a log entry's, which ends with `describe`'s sentence when it has one) with that
    sentence said again from `values`: what `forget_private_text` uses once an entry turns
    private, so the texts it quoted go (`values` masked, `private` True). Everything from the
    sentence's start on is replaced, so a cut or odd message loses more, never keeps a text."""
    start = message.find(_OPENING)
    base = message[:start].rstrip() if start >= 0 else message
    return " ".join(part for part in (base, describe(values, side=side, zone=zone, private=private)) if part)


def _value(key: str, value, tz: ZoneInfo | None, *, private: bool) -> str:
    if key in _TEXT_KEYS:
        if private:
            return "(private entry: not shown)"
        return _quoted(value)
    if key in ("start", "end"):
        return _moment(value, tz) if value else "(none)"
    if key == "busy":
        return "busy" if value else "free"
    if key in ("all_day", "private"):
        return "yes" if value else "no"
    if key == "rrules":
        return ", ".join(_quoted(rule) for rule in value) if value else "(none: a single entry)"
    if key == "exdates":
        return ", ".join(_moment(d, tz) for d in value) if value else "(none)"
    if key == "overrides":
        return _occurrences(value or [], tz, private=private)
    return _quoted(str(value))


_MAX_OCCURRENCES = 5  # named in the sentence; the JSON keeps them all


def _occurrences(entries: list[dict], tz: ZoneInfo | None, *, private: bool) -> str:
    """Which occurrences, by the date and time the series gave them on the technician's clock,
    and what the losing side had in each: "Mon 7 Dec 2026 15:00 (moved to Mon 7 Dec 2026
    16:00-16:30); Mon 14 Dec 2026 15:00 (subject 'Room 2')", an en dash between the times.
    `entries`: `mapping.lost_values`' "overrides" (a log entry written before it named the
    fields holds whole overrides: each is then said with all it had)."""
    if not entries:
        return "(none)"
    said = []
    for entry in entries[:_MAX_OCCURRENCES]:
        what = []
        if entry.get("as_series"):
            what.append("as the series has it")
        if entry.get("start") or entry.get("end"):
            what.append(f"moved to {_span(entry.get('start'), entry.get('end'), tz)}")
        for key, word in (("subject", "subject"), ("location", "location"), ("body", "text")):
            if entry.get(key) is not None:
                what.append(f"{word} {_value(key, entry[key], tz, private=private or entry.get('private', False))}")
        when = _moment(entry.get("original_start"), tz)
        said.append(f"{when} ({', '.join(what)})" if what else when)
    more = len(entries) - _MAX_OCCURRENCES
    return "; ".join(said) + (f"; and {more} more" if more > 0 else "")


def _span(start: str | None, end: str | None, tz: ZoneInfo | None) -> str:
    """Two snapshot moments as "Mon 7 Dec 2026 16:00-16:30" (an en dash; the end's day only when
    it differs from the start's)."""
    first, last = _moment(start, tz) if start else "?", _moment(end, tz) if end else "?"
    # Marked instants (tz None) are written whole, each with its zone, on the reader's clock.
    if tz is not None and ":" in first and ":" in last and first[:-6] == last[:-6]:
        return f"{first}\u2013{last[-5:]}"
    return f"{first} \u2013 {last}"


def _quoted(text: str | None) -> str:
    text = " ".join((text or "").split())
    if not text:
        return "(empty)"
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 1].rstrip() + "…"
    return f"'{text}'"


def _moment(tagged: str, tz: ZoneInfo | None) -> str:
    """A snapshot moment ("T" aware UTC, "F" floating wall clock, "D" date) as the technician reads
    it; with tz None an aware one is marked for each reader's clock (`describe`)."""
    value = mapping.moment_from_data(tagged)
    if isinstance(value, datetime) and tz is None and value.tzinfo is not None:
        return history_moment(value)
    if isinstance(value, datetime):
        # Floating (naive) is the same wall clock everywhere; aware is read on the technician's.
        return when_text(value, tz)
    if isinstance(value, date):
        return day_text(value)
    return "(none)"
