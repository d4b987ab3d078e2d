"""Each calendar object's VTIMEZONEs define its TZIDs for that object alone.

RFC 5545 3.2.19 and 3.6.5: a TZID names the VTIMEZONE in the same iCalendar object; nothing makes
a name mean the same zone in another object. Outlook and Exchange write every zone they cannot
name in the IANA database as TZID "Customized Time Zone", each with its own offsets, and Windows
names ("W. Europe Standard Time") come with blocks of whatever rules the writer's Windows knew.

icalendar 7.3 keeps one table of zones for the whole process (`icalendar.timezone.tzp`): the
first VTIMEZONE read under a name its provider does not know (`cache_timezone_component`) stays
that name's zone for every object read after it, in every technician's calendar. A worker that
read one organiser's "Customized Time Zone" (UTC+5) then read the next organiser's (UTC-3) eight
hours wrong.

`own_zones()` gives the reading thread a table of its own for the time one object is read, so a
TZID resolves to the object's own block (or the IANA zone, which icalendar's provider resolves
outside the table). A block read before in this process (same text, so the same rules) is kept in
a bounded table by its text (`zone_of_block`), so a listing that repeats the same blocks in every
entry (RFC 4791 4.1) builds each zone once.

This reaches into icalendar's private table (`TZP._TZP__tz_cache`), pinned to the icalendar
version in requirements.txt; `tests/calendars/test_ical_zones.py` fails if that changes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import tzinfo
from zoneinfo import ZoneInfo

import icalendar
from icalendar.parser.content_line import UFOLD
from icalendar.parser.property import unescape_backslash
from icalendar.timezone import tzp

# Zones kept by block text; a hostile calendar can write any number of distinct blocks, so bounded.
MAX_BLOCKS_KEPT = 256

_local = threading.local()
_blocks: OrderedDict[str, tuple[str, tzinfo | None]] = OrderedDict()
_blocks_lock = threading.Lock()
_TZID_LINE = re.compile(r"^TZID(?:;[^:\r\n]*)?:([^\r\n]*)", re.M | re.I)


class _PerThreadTable(dict):
    """icalendar's zone table: the shared dict, except inside `own_zones()`, where the thread's own
    dict answers and takes every zone read from a block. IANA zones (ZoneInfo, what icalendar's
    provider resolves from a name alone, the same in every object) are still shared, so a listing
    does not look each up again per object; a block's zone under any name never is."""

    def get(self, key, default=None):
        own = getattr(_local, "table", None)
        if own is None:
            return super().get(key, default)
        found = own.get(key)
        if found is None:
            found = super().get(key)
            if not isinstance(found, ZoneInfo):
                return default
        return found

    def __getitem__(self, key):
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __setitem__(self, key, value) -> None:
        own = getattr(_local, "table", None)
        if own is None or isinstance(value, ZoneInfo):
            super().__setitem__(key, value)
        else:
            own[key] = value

    def __contains__(self, key) -> bool:
        own = getattr(_local, "table", None)
        return key in own if own is not None else super().__contains__(key)


_ATTRIBUTE = "_TZP__tz_cache"


def _install() -> None:
    """Put the per-thread table in place of icalendar's (again, if `tzp.use_*()` replaced it)."""
    current = getattr(tzp, _ATTRIBUTE)
    if not isinstance(current, _PerThreadTable):
        setattr(tzp, _ATTRIBUTE, _PerThreadTable(current))


class own_zones:
    """While open, icalendar resolves TZIDs in this thread from a table of its own, holding only
    `known` (TZID as icalendar cleans it, leading/trailing "/" stripped -> zone) and the
    VTIMEZONEs read inside. `with` gives that table (a dict). Nested use opens a new table and
    restores the outer one on leaving. IANA names are resolved by icalendar's provider, outside
    any table. A class, not a generator: it is entered once per calendar object read."""

    __slots__ = ("outer", "table")

    def __init__(self, known: Mapping[str, tzinfo] | None = None) -> None:
        self.table: dict[str, tzinfo] = dict(known) if known else {}

    def __enter__(self) -> dict[str, tzinfo]:
        if type(tzp.__dict__.get(_ATTRIBUTE)) is not _PerThreadTable:
            _install()
        self.outer = getattr(_local, "table", None)
        _local.table = self.table
        return self.table

    def __exit__(self, *exc_info) -> None:
        _local.table = self.outer


def block_tzid(block: str) -> str | None:
    """The TZID of one VTIMEZONE block's text, as icalendar keys it (unfolded, "/" stripped), or
    None when the block names none."""
    match = _TZID_LINE.search(UFOLD.sub("", block))  # icalendar's own unfolding: its key
    # A TEXT value (RFC 5545 3.3.11): icalendar keys the zone by it unescaped, so Outlook's
    # "(UTC+05:00) Ashgabat\, Tashkent" is "(UTC+05:00) Ashgabat, Tashkent" there.
    return unescape_backslash(match.group(1)).strip("/") if match else None


def zone_of_block(block: str) -> tuple[str, tzinfo | None] | None:
    """(TZID, zone) icalendar built from this exact block text earlier in the process (zone None:
    a name icalendar's provider resolves itself, such as an IANA name), or None when the block has
    not been kept (`keep_blocks`)."""
    found = _blocks.get(block)  # one C call each, atomic under the GIL; keep_blocks takes the lock
    if found is not None:
        with contextlib.suppress(KeyError):  # dropped by another thread in between
            _blocks.move_to_end(block)
    return found


def keep_blocks(blocks: list[str], table: Mapping[str, tzinfo]) -> None:
    """Keep, by their text, the zones icalendar built for `blocks` while reading one object
    (`table`, from `own_zones`), the oldest dropped past MAX_BLOCKS_KEPT."""
    named = set()
    with _blocks_lock:
        for block in blocks:
            tzid = block_tzid(block)
            # A second block under the same name in one object was not what icalendar read.
            if tzid is None or tzid in named:
                continue
            named.add(tzid)
            _blocks[block] = (tzid, table.get(tzid))
            _blocks.move_to_end(block)
        while len(_blocks) > MAX_BLOCKS_KEPT:
            _blocks.popitem(last=False)


# A series' own VTIMEZONE kept with it (Schedule.zone_block): real blocks are under 2 KiB (Outlook
# writes two observances); a longer one is no zone the helpdesk keeps.
MAX_ZONE_BLOCK = 8 * 1024


@functools.lru_cache(maxsize=MAX_BLOCKS_KEPT)
def zone_from_block(block: str) -> tzinfo:
    """The zone one VTIMEZONE block's text describes (RFC 5545 3.6.5), as icalendar builds it
    (`Timezone.to_tz`, a dateutil zone), never looked up or kept under its TZID: the same name is
    another zone in another object (module docstring). One object per text, so a series' occurrences
    made on different days compare equal. Raises ValueError for text that is no VTIMEZONE or longer
    than MAX_ZONE_BLOCK. The caller has checked its observances (yearly, few onsets:
    `integrations.providers.caldav._check_zone_rules`) before keeping it."""
    if len(block) > MAX_ZONE_BLOCK:
        raise ValueError(f"a VTIMEZONE of {len(block)} characters; the helpdesk keeps at most {MAX_ZONE_BLOCK}")
    try:
        component = icalendar.Timezone.from_ical(block)
    except Exception as error:  # icalendar raises ValueError, KeyError, IndexError on bad text
        raise ValueError(f"not a VTIMEZONE icalendar can read ({error})") from error
    if not isinstance(component, icalendar.Timezone) or not block_tzid(block):
        raise ValueError("not one VTIMEZONE with a TZID")
    return component.to_tz(lookup_tzid=False)


def written_block(block: str) -> str:
    """A series' own VTIMEZONE (`zone_from_block`) as the helpdesk's feeds and e-mail attachments
    write it: under a TZID of its own, the block's name with a digest of its text ("Customized
    Time Zone (3f2a9c1b)"), since a feed holds many organisers' blocks and each TZID must name
    one zone there (RFC 5545 3.2.19). Characters a parameter value must quote (RFC 5545 3.1: `;`,
    `:`, `,`, `"`) and backslashes are left out of that name, so every writer can put it in a
    TZID parameter as it is. Its observances are the block's own; the CalDAV object of the series
    keeps the block and TZID as the organiser wrote them."""
    name = _UNSAFE_IN_TZID.sub(" ", block_tzid(block) or "Zone").strip()
    digest = hashlib.sha256(block.encode()).hexdigest()[:8]
    written = _TZID_LINE.sub(lambda _match: f"TZID:{name} ({digest})", UFOLD.sub("", block), count=1)
    return "".join(f"{line}\r\n" for line in written.splitlines() if line)  # CRLF, as every writer here


_UNSAFE_IN_TZID = re.compile(r'[;:,"\\]+')
