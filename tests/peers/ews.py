"""A local Exchange Web Services server for the connector tests.

It speaks SOAP over HTTP on 127.0.0.1 (port 0) the way Exchange Server 2016 does, following
Microsoft's MS-OXWS documents (GetFolder, FindItem, GetItem, CreateItem, UpdateItem,
DeleteItem, SyncFolderItems), so the real exchangelib can talk to it. State is in memory, one
calendar per mailbox. Tests seed and inspect it as another client would ("in Outlook"), and
switch faults on (ErrorServerBusy, 503/429 with Retry-After, 401, 500, dropped connections).

What it checks like Exchange does: Basic credentials (401 otherwise), the ApplicationImpersonation
role of the connecting account for the ExchangeImpersonation header (ErrorImpersonateUserDenied),
mailboxes that exist (ErrorNonExistentMailbox), delegate rights without impersonation
(ErrorAccessDenied), change keys under ConflictResolution (ErrorIrresolvableConflict), the
SendMeetingInvitations / SendMeetingCancellations attributes calendar items need, and sync
states it issued (ErrorInvalidSyncStateData).

What an item keeps that the helpdesk does not own, as Exchange does: Categories (ArrayOfStrings),
the reminder (ReminderIsSet / ReminderMinutesBeforeStart), and any extended property (returned
only when a request names it in AdditionalProperties); UpdateItem changes only the properties
its SetItemField / DeleteItemField elements name.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import random
import threading
import time as clock
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from dateutil import rrule
from exchangelib.winzone import CLDR_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"
for _prefix, _uri in (("s", SOAP), ("m", MNS), ("t", TNS), ("e", ENS)):
    ET.register_namespace(_prefix, _uri)

API_VERSIONS = ("Exchange2007", "Exchange2007_SP1", "Exchange2010", "Exchange2010_SP1", "Exchange2010_SP2")
API_VERSIONS += ("Exchange2013", "Exchange2013_SP1", "Exchange2016")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_GROUPS = {"Day": WEEKDAYS, "Weekday": WEEKDAYS[:5], "WeekendDay": WEEKDAYS[5:]}
WEEK_INDEXES = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August")
MONTHS += ("September", "October", "November", "December")


def t(tag: str) -> str:
    return f"{{{TNS}}}{tag}"


def m(tag: str) -> str:
    return f"{{{MNS}}}{tag}"


def ews_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def new_change_key() -> str:
    return base64.b64encode(b"CQAAABYAAA" + uuid.uuid4().bytes[:9]).decode()


# Exchange's ids are base64 of a binary store entry id: 150+ characters for an item, longer for an
# occurrence. A header of the same kind keeps ours as long, so the connector's storage is tested.
ID_HEADER = b"\x00\x00\x03\x24\x00" + bytes(range(59))


def encode_id(*parts: str) -> str:
    return base64.b64encode(ID_HEADER + "|".join(parts).encode()).decode()


def second_form(mailbox: str, folder: str) -> str:
    """Another form of a folder's id naming the same folder (`folder_id_second_form`)."""
    return encode_id("folder2", mailbox, folder)


def decode_id(value: str) -> list[str]:
    try:
        raw = base64.b64decode(value.encode(), validate=True)
    except ValueError:
        return []
    if not raw.startswith(ID_HEADER):
        return []
    try:
        return raw[len(ID_HEADER) :].decode().split("|")
    except UnicodeDecodeError:
        return []


def iana_for(windows_id: str) -> str:
    """The server's reading of a Windows zone id: CLDR's table (icalendar's copy) first, not the
    exchangelib table the connector writes with, so a wrong zone name written by us shows."""
    return WINDOWS_TO_OLSON.get(windows_id) or MS_TIMEZONE_TO_IANA_MAP.get(windows_id, "UTC")


def windows_for(iana: str) -> str:
    return CLDR_TO_MS_TIMEZONE_MAP[iana][0] if iana in CLDR_TO_MS_TIMEZONE_MAP else "UTC"


class EwsError(Exception):
    """An error answer for one response message (ResponseClass="Error")."""

    def __init__(self, code: str, text: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.text = text or code


class SoapFault(Exception):
    """An error for the whole request: a SOAP fault with HTTP 500, as Exchange sends for header problems."""

    def __init__(self, code: str, text: str, values: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.text = text
        self.values = values or {}


# --- state -------------------------------------------------------------------------------


@dataclass
class Recurrence:
    """An EWS recurrence: one pattern element and one range element, kept as parsed values."""

    pattern: str  # DailyRecurrence, WeeklyRecurrence, AbsoluteMonthlyRecurrence, ...
    interval: int = 1
    days_of_week: list[str] = field(default_factory=list)
    first_day_of_week: str = "Monday"
    day_of_month: int | None = None
    day_of_week_index: str | None = None
    month: str | None = None
    range: str = "NoEndRecurrence"
    start_date: date | None = None
    end_date: date | None = None
    count: int | None = None


@dataclass
class Exception_:
    """A modified occurrence of a series (an "exception" in Exchange's words)."""

    item_id: str
    change_key: str
    start: datetime
    end: datetime
    subject: str | None = None
    location: str | None = None
    body: str | None = None
    sensitivity: str | None = None  # an occurrence marked private (or not) on its own


@dataclass
class Item:
    item_id: str
    change_key: str
    mailbox: str
    subject: str = ""
    body: str = ""
    body_type: str = "Text"
    location: str = ""
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime = field(default_factory=lambda: datetime.now(UTC))
    is_all_day: bool = False
    sensitivity: str = "Normal"
    free_busy: str = "Busy"
    reminder_is_set: bool = True
    reminder_minutes: int = 15
    categories: list[str] = field(default_factory=list)  # item:Categories, Outlook's colour categories
    start_tz: str = "UTC"  # Windows zone id
    end_tz: str = "UTC"
    uid: str = field(default_factory=lambda: uuid.uuid4().hex.upper())
    extended: dict[tuple[str, str, str], str | list[str]] = field(default_factory=dict)  # list: t:Values
    recurrence: Recurrence | None = None
    modified: dict[datetime, Exception_] = field(default_factory=dict)
    deleted: set[datetime] = field(default_factory=set)
    folder: str = "calendar"  # the key of its calendar folder (Mailbox.folders)
    # t:RequiredAttendees / t:OptionalAttendees / t:Resources (their EmailAddress): an item with any
    # is a meeting (IsMeeting). `organizer` is the mailbox that sent it ("": this one, so
    # MyResponseType "Organizer"); a copy an invitation put here answers NoResponseReceived.
    attendees: list[str] = field(default_factory=list)
    organizer: str = ""
    my_response_type: str = "Organizer"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_modified: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def is_master(self) -> bool:
        return self.recurrence is not None

    def original_starts(self, limit: datetime | None = None) -> list[datetime]:
        """The starts the recurrence gives, in UTC, on the wall clock of the start time zone."""
        if self.recurrence is None:
            return [self.start]
        zone = ZoneInfo(iana_for(self.start_tz))
        local = self.start.astimezone(zone)
        first = datetime.combine(self.recurrence.start_date or local.date(), local.time())
        rule = rule_for(self.recurrence, first)
        result = []
        for naive in rule:
            start = naive.replace(tzinfo=zone).astimezone(UTC)
            if limit is not None and start >= limit:
                break
            result.append(start)
            if len(result) > 5000:
                break
        return result


def rule_for(recurrence: Recurrence, first: datetime) -> rrule.rrule:
    weekday = {name: getattr(rrule, name[:2].upper()) for name in WEEKDAYS}
    kwargs: dict = {"dtstart": first, "interval": recurrence.interval or 1}
    days = [d for name in recurrence.days_of_week for d in DAY_GROUPS.get(name, (name,))]
    if recurrence.pattern == "DailyRecurrence":
        freq = rrule.DAILY
    elif recurrence.pattern == "WeeklyRecurrence":
        freq = rrule.WEEKLY
        kwargs["byweekday"] = [weekday[d] for d in days]
        kwargs["wkst"] = weekday[recurrence.first_day_of_week]
    elif recurrence.pattern == "AbsoluteMonthlyRecurrence":
        freq = rrule.MONTHLY
        kwargs["bymonthday"] = recurrence.day_of_month
    elif recurrence.pattern == "RelativeMonthlyRecurrence":
        freq = rrule.MONTHLY
        kwargs["byweekday"] = [weekday[d] for d in days]
        kwargs["bysetpos"] = WEEK_INDEXES[recurrence.day_of_week_index or "First"]
    elif recurrence.pattern == "AbsoluteYearlyRecurrence":
        freq = rrule.YEARLY
        kwargs.update(interval=1, bymonth=MONTHS.index(recurrence.month) + 1, bymonthday=recurrence.day_of_month)
    elif recurrence.pattern == "RelativeYearlyRecurrence":
        freq = rrule.YEARLY
        kwargs.update(interval=1, bymonth=MONTHS.index(recurrence.month) + 1)
        kwargs["byweekday"] = [weekday[d] for d in days]
        kwargs["bysetpos"] = WEEK_INDEXES[recurrence.day_of_week_index or "First"]
    else:
        raise EwsError("ErrorInvalidRecurrence", f"Unknown pattern {recurrence.pattern}")
    if recurrence.range == "NumberedRecurrence":
        kwargs["count"] = recurrence.count
    elif recurrence.range == "EndDateRecurrence" and recurrence.end_date:
        kwargs["until"] = datetime.combine(recurrence.end_date, time(23, 59, 59))
    return rrule.rrule(freq, **kwargs)


@dataclass
class Change:
    """One row of a mailbox's change log: the last change of an item, for SyncFolderItems."""

    seq: int
    created_seq: int
    deleted: bool = False
    folder: str = "calendar"  # the key of the calendar folder the item is (was) in


@dataclass
class Mailbox:
    address: str
    root_id: str
    calendar_id: str
    items: dict[str, Item] = field(default_factory=dict)
    # Calendar folders by key (their FolderId is encode_id("folder", address, key)): display name and
    # parent key ("root" for a folder under the root). "calendar" is the default Calendar.
    folders: dict[str, tuple[str, str]] = field(default_factory=lambda: {"calendar": ("Calendar", "root")})
    changes: dict[str, Change] = field(default_factory=dict)
    sync_generation: int = 0
    delegates: set[str] = field(default_factory=set)
    # Folders the connection's account may read but no longer write (Reviewer rights): their
    # EffectiveRights say so and every write of their items is refused with ErrorAccessDenied.
    read_only: set[str] = field(default_factory=set)
    # Items Exchange refuses on their own (a delegate's private item, a meeting only its organiser
    # may change): item id -> "write" (changes refused) or "read" (reading refused too).
    refused: dict[str, str] = field(default_factory=dict)


ACCESS_DENIED = "Access is denied. Check credentials and try again."


@dataclass
class Occurrence:
    """One entry of a CalendarView, for assertions."""

    item_id: str
    master_id: str | None
    kind: str  # Single, Occurrence, Exception
    subject: str
    start: datetime
    end: datetime
    original_start: datetime | None


# --- faults: the server asks the client to wait ---------------------------------------------------
#
# busy: ErrorServerBusy as a SOAP fault (HTTP 500) whose detail carries MessageXml/Value
#   Name="BackOffMilliseconds" (MS-OXWS throttling; the back_off_ms option, default 1000);
# 503: HTTP 503 Service Unavailable, as IIS / the CAS front end sends when an application pool is
#   overloaded, with Retry-After (RFC 9110 10.2.3; the retry_after option: seconds "3" or an
#   HTTP-date; None sends no header);
# 429: HTTP 429 Too Many Requests (RFC 6585) with Retry-After, as Exchange Online's front end does.
BACK_OFF_FAULTS = ("busy", "503", "429")
# Added for the sync state machine; see "faults added for the sync state machine" at the end.
EXTRA_FAULTS = ("answer_late", "busy_with_retry_after")


def server_busy(options: dict) -> SoapFault:
    return SoapFault(
        "ErrorServerBusy",
        "The server cannot service this request right now. Try again later.",
        {"BackOffMilliseconds": str(options.get("back_off_ms", 1000))},
    )


def http_back_off(kind: str, options: dict) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "text/html"}
    retry_after = options.get("retry_after", "1")
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if kind == "503":
        return 503, headers, b"<html><body><h1>Service Unavailable</h1></body></html>"
    return 429, headers, b"<html><body><h1>Too Many Requests</h1></body></html>"


# Every switch of fail_next: drop closes without answering; drop_after does the work, then closes
# without answering; stall_after does the work, then hangs until `release` is set; late does the
# work after a pause and then answers (see below); the back-off answers above; and answer_late and
# busy_with_retry_after (see "faults added for the sync state machine").
FAULTS = ("401", "500", "drop", "drop_after", "stall_after", "late", *BACK_OFF_FAULTS, *EXTRA_FAULTS)


# --- the server ------------------------------------------------------------------------------


class EwsServer:
    """Start with `with EwsServer() as ews:`; `ews.url` is the EWS endpoint."""

    def __init__(self, *, accounts: dict[str, str] | None = None, server_version: str = "Exchange2016") -> None:
        self.accounts = {name.lower(): pw for name, pw in (accounts or {"svc-helpdesk@example.com": "secret"}).items()}
        self.impersonators: set[str] = set()
        self.mailboxes: dict[str, Mailbox] = {}
        self.server_version = server_version
        self.requests: list[str] = []
        # (operation, value of SendMeetingInvitations / SendMeetingCancellations / ...OrCancellations)
        self.notifications: list[tuple[str, str | None]] = []
        self.faults: deque[tuple[str, dict]] = deque()
        # Random faults: each request fails with probability fault_rate, drawn from fault_kinds.
        self.fault_rate = 0.0
        self.fault_kinds: tuple[str, ...] = ("busy", "500", "drop", "drop_after")
        self.random = random.Random(0)
        self.faults_served: Counter[str] = Counter()
        # On: GetItem gives an item's ParentFolderId in a second form of its folder's id (`second_form`),
        # which GetFolder also takes, answering with the FolderId as FindFolder gives it. Folder ids are
        # not immutable and come back in more than one form (outlook-immutable-id: containers keep none).
        # "unresolvable": GetItem gives the second form, GetFolder refuses it (ErrorInvalidIdMalformed).
        self.folder_id_second_form: bool | str = False
        self.processed = threading.Event()
        self.late_done = threading.Event()  # see "a slow server" below
        self.release = threading.Event()
        self.lock = threading.RLock()
        self.late_seconds = 2.0  # answer_late: how long after doing the work the answer is sent
        # refuse_items: (text in the subject, ResponseCode, MessageText) for items Exchange will not save
        self.refusals: list[tuple[str, str, str]] = []
        # before_request(operation): run in the server's thread as a request arrives, before it is
        # handled - what someone else does while the request is in flight (a second helpdesk change).
        self.before_request = None
        self.read_refusals: list[tuple[str, str, str]] = []
        # (operation, number of items) for every CreateItem / UpdateItem / DeleteItem / GetItem
        self.item_counts: list[tuple[str, int]] = []
        self._seq = itertools.count(1)
        self.seq = 0
        self._httpd: ThreadingHTTPServer | None = None

    # lifecycle

    def start(self) -> EwsServer:
        handler = type("Handler", (_Handler,), {"ews": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> EwsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/EWS/Exchange.asmx"

    @property
    def request_count(self) -> int:
        return len(self.requests)

    # administration, as an Exchange admin would set it up

    def add_mailbox(self, address: str) -> Mailbox:
        with self.lock:
            address = address.lower()
            box = Mailbox(address, encode_id("folder", address, "root"), encode_id("folder", address, "calendar"))
            self.mailboxes[address] = box
            return box

    def add_calendar_folder(self, mailbox: str, name: str, *, under: str = "root") -> str:
        """Another calendar folder (Outlook: New Calendar), under the root or under another calendar
        folder (`under`: its id); returns its FolderId. Display names need not be unique."""
        with self.lock:
            box = self._box(mailbox)
            parent = "root" if under == "root" else decode_id(under)[2]
            key = uuid.uuid4().hex
            box.folders[key] = (name, parent)
            return encode_id("folder", box.address, key)

    add_calendar = add_calendar_folder  # the Graph peer's name for it

    def grant_impersonation(self, account: str) -> None:
        """New-ManagementRoleAssignment -Role ApplicationImpersonation -User account."""
        self.impersonators.add(account.lower())

    def grant_delegate(self, account: str, mailbox: str) -> None:
        """Add-MailboxFolderPermission mailbox:\\Calendar -User account -AccessRights Editor."""
        self.mailboxes[mailbox.lower()].delegates.add(account.lower())

    def fail_next(self, kind: str, times: int = 1, **options) -> None:
        """The next `times` requests fail (see FAULTS; busy takes back_off_ms=..., 503 and 429
        retry_after=...); with
        operation="CreateItem", the next requests of that operation only; skip=N: after N of them."""
        assert kind in FAULTS, kind
        with self.lock:
            self.faults.extend((kind, options) for _ in range(times))

    def calm(self) -> None:
        """No more faults, planned or random; a stalled request is let go."""
        with self.lock:
            self.faults.clear()
            self.fault_rate = 0.0
        self.release.set()

    def refuse_items(
        self,
        subject_contains: str,
        code: str = "ErrorItemSave",
        text: str = "The item could not be saved to the store.",
    ) -> None:
        """CreateItem / UpdateItem refuse every item whose subject holds `subject_contains`, in that
        item's own ResponseMessage (ResponseClass="Error"), and save the other items of the request,
        as Exchange does (MS-OXWS 3.1.4: one response message per item)."""
        with self.lock:
            self.refusals.append((subject_contains, code, text))

    def refuse_reads(
        self,
        subject_contains: str,
        code: str = "ErrorCorruptData",
        text: str = "The item's data is corrupt and cannot be read.",
    ) -> None:
        """GetItem answers every item whose subject holds `subject_contains` with an error in that
        item's own ResponseMessage and reads the others (MS-OXWS 3.1.4: one message per item)."""
        with self.lock:
            self.read_refusals.append((subject_contains, code, text))

    def refuse_item(self, mailbox: str, item_id: str, *, reads: bool = False) -> None:
        """Exchange refuses this one item from now on, in its own ResponseMessage (MS-OXWS 3.1.4):
        UpdateItem and DeleteItem (with `reads`, GetItem too) answer ErrorAccessDenied."""
        with self.lock:
            self.mailboxes[mailbox.lower()].refused[item_id] = "read" if reads else "write"

    def drop_write_right(self, mailbox: str, folder: str = "calendar") -> None:
        """The connection's account may only read the mailbox's calendar folder from now on
        (Reviewer, Add-MailboxFolderPermission -AccessRights Reviewer): GetFolder's EffectiveRights
        say Read without CreateContents, Modify or Delete, and writes answer ErrorAccessDenied."""
        with self.lock:
            self.mailboxes[mailbox.lower()].read_only.add(folder)

    @staticmethod
    def _check_rights(box: Mailbox, item: Item, *, write: bool) -> None:
        """ErrorAccessDenied for an item the account may not read or write (`refuse_item`,
        `drop_write_right`)."""
        kind = box.refused.get(item.item_id)
        if (write and item.folder in box.read_only) or (kind and (write or kind == "read")):
            raise EwsError("ErrorAccessDenied", ACCESS_DENIED)

    def _check_refusals(self, item: Item) -> None:
        for needle, code, text in self.refusals:
            if needle in (item.subject or ""):
                raise EwsError(code, text)

    def refuse_sync_states(self, mailbox: str) -> None:
        """Forget every sync state issued for the mailbox, as after a mailbox move."""
        with self.lock:
            self.mailboxes[mailbox.lower()].sync_generation += 1

    # another client ("Outlook") changes the calendar

    def outlook_create(
        self,
        mailbox: str,
        *,
        subject: str,
        start: datetime | date,
        end: datetime | date,
        time_zone: str = "Europe/Amsterdam",
        recurrence: Recurrence | None = None,
        folder: str | None = None,
        **fields,
    ) -> str:
        """An entry the user made in Outlook, in the default calendar or in `folder` (a FolderId)."""
        with self.lock:
            box = self._box(mailbox)
            item = Item(encode_id("item", box.address, uuid.uuid4().hex), new_change_key(), box.address)
            item.folder = decode_id(folder)[2] if folder else "calendar"
            item.subject = subject
            item.start_tz = item.end_tz = windows_for(time_zone)
            item.start, item.end, item.is_all_day = _span(start, end, time_zone)
            if recurrence is not None and recurrence.start_date is None:
                recurrence.start_date = item.start.astimezone(ZoneInfo(time_zone)).date()
            item.recurrence = recurrence
            for name, value in fields.items():
                setattr(item, name, value)
            self._store(box, item, created=True)
            return item.item_id

    def outlook_update(self, mailbox: str, item_id: str, **fields) -> None:
        with self.lock:
            box = self._box(mailbox)
            item = box.items[item_id]
            if "start" in fields or "end" in fields:
                start, end, all_day = _span(
                    fields.pop("start", item.start), fields.pop("end", item.end), iana_for(item.start_tz)
                )
                item.start, item.end, item.is_all_day = start, end, all_day
            for name, value in fields.items():
                setattr(item, name, value)
            self._touch(box, item)

    def outlook_move_series(self, mailbox: str, master_id: str, by: timedelta) -> None:
        """Outlook moving a whole series `by` (its time in the Recurrence dialog): the master's
        start and end move, and its exceptions are lost, moved and deleted occurrences alike (Outlook
        warns "Any exceptions associated with this recurring appointment will be lost")."""
        with self.lock:
            box = self._box(mailbox)
            master = box.items[master_id]
            assert master.recurrence is not None
            master.start, master.end = master.start + by, master.end + by
            if master.recurrence.start_date is not None:
                master.recurrence.start_date = master.start.astimezone(ZoneInfo(iana_for(master.start_tz))).date()
            master.modified.clear()
            master.deleted.clear()
            self._touch(box, master)

    def outlook_move_occurrence(
        self, mailbox: str, master_id: str, original_start: datetime, *, start: datetime, end: datetime, **fields
    ) -> None:
        with self.lock:
            box = self._box(mailbox)
            master = box.items[master_id]
            original_start = original_start.astimezone(UTC)
            assert original_start in master.original_starts(original_start + timedelta(seconds=1))
            occurrence = master.modified.get(original_start) or Exception_(
                _occurrence_id(master, original_start), new_change_key(), start, end
            )
            occurrence.start, occurrence.end = start.astimezone(UTC), end.astimezone(UTC)
            for name, value in fields.items():
                setattr(occurrence, name, value)
            master.modified[original_start] = occurrence
            self._touch(box, master)

    def outlook_cancel_occurrence(self, mailbox: str, master_id: str, original_start: datetime) -> None:
        with self.lock:
            box = self._box(mailbox)
            master = box.items[master_id]
            original_start = original_start.astimezone(UTC)
            master.modified.pop(original_start, None)
            master.deleted.add(original_start)
            self._touch(box, master)

    def outlook_delete(self, mailbox: str, item_id: str) -> None:
        with self.lock:
            box = self._box(mailbox)
            del box.items[item_id]
            self._log_delete(box, item_id)

    # inspection

    def items(self, mailbox: str) -> list[Item]:
        with self.lock:
            return [copy.deepcopy(item) for item in self._box(mailbox).items.values()]

    def calendar_holding(self, mailbox: str, item_id: str) -> str:
        """The FolderId of the calendar folder an item is in."""
        return encode_id("folder", mailbox.lower(), self.item(mailbox, item_id).folder)

    def markers_in(self, mailbox: str, folder_id: str) -> Counter:
        """The value of the helpdesk's marker property (HelpdeskLinkId) of each item of a folder."""
        key = decode_id(folder_id)[2]
        return Counter(
            value
            for item in self.items(mailbox)
            if item.folder == key
            for (_, name, _), value in item.extended.items()
            if name == "HelpdeskLinkId"
        )

    def item(self, mailbox: str, item_id: str) -> Item:
        with self.lock:
            return copy.deepcopy(self._box(mailbox).items[item_id])

    def calendar_view(
        self, mailbox: str, start: datetime, end: datetime, folder: str | None = None
    ) -> list[Occurrence]:
        """What Outlook shows between start and end in the default calendar or in `folder` (a
        FolderId): singles, occurrences and exceptions."""
        with self.lock:
            return [
                Occurrence(
                    item_id=entry["id"],
                    master_id=entry["master"].item_id if entry["master"] else None,
                    kind=entry["type"],
                    subject=entry["subject"],
                    start=entry["start"],
                    end=entry["end"],
                    original_start=entry["original_start"],
                )
                for entry in self._expand(
                    self._box(mailbox), start, end, decode_id(folder)[2] if folder else "calendar"
                )
            ]

    # internals: change log

    def _box(self, address: str) -> Mailbox:
        return self.mailboxes[address.lower()]

    def _next_seq(self) -> int:
        self.seq = next(self._seq)
        return self.seq

    def _store(self, box: Mailbox, item: Item, *, created: bool = False) -> None:
        box.items[item.item_id] = item
        seq = self._next_seq()
        box.changes[item.item_id] = Change(seq=seq, created_seq=seq, folder=item.folder)

    def _deliver_invitations(self, box: Mailbox, item: Item) -> None:
        """A meeting request reaches each invited mailbox held here and, as Exchange's calendar
        assistant does, puts a tentative copy in its calendar: organised by the sender, the same
        UID, MyResponseType NoResponseReceived (MS-OXWS t:ResponseTypeType; MS-OXOCAL 3.1.5.1)."""
        for address in item.attendees:
            other = self.mailboxes.get(address.lower())
            if other is None or other is box:
                continue
            copy_ = copy.deepcopy(item)
            copy_.item_id, copy_.change_key = encode_id("item", other.address, uuid.uuid4().hex), new_change_key()
            copy_.mailbox, copy_.folder, copy_.extended = other.address, "calendar", {}
            copy_.organizer, copy_.my_response_type, copy_.free_busy = box.address, "NoResponseReceived", "Tentative"
            self._store(other, copy_, created=True)

    def _touch(self, box: Mailbox, item: Item) -> None:
        item.change_key = new_change_key()
        item.last_modified = datetime.now(UTC)
        box.changes[item.item_id].seq = self._next_seq()

    def _log_delete(self, box: Mailbox, item_id: str) -> None:
        change = box.changes[item_id]
        change.seq = self._next_seq()
        change.deleted = True

    # internals: expansion of the calendar for CalendarView

    def _expand(self, box: Mailbox, start: datetime, end: datetime, folder: str = "calendar") -> list[dict]:
        entries = []
        for item in box.items.values():
            if item.folder != folder:
                continue
            if item.recurrence is None:
                if item.start < end and item.end > start:
                    entries.append(
                        {"id": item.item_id, "type": "Single", "item": item, "master": None, "subject": item.subject}
                        | {"start": item.start, "end": item.end, "original_start": None}
                    )
                continue
            duration = item.end - item.start
            for original in item.original_starts(limit=end + timedelta(days=1)):
                if original in item.deleted:
                    continue
                exception = item.modified.get(original)
                occ_start, occ_end = (exception.start, exception.end) if exception else (original, original + duration)
                if occ_start < end and occ_end > start:
                    entries.append(
                        {
                            "id": _occurrence_id(item, original),
                            "type": "Exception" if exception else "Occurrence",
                            "item": item,
                            "master": item,
                            "subject": exception.subject
                            if exception and exception.subject is not None
                            else item.subject,
                            "start": occ_start,
                            "end": occ_end,
                            "original_start": original,
                            "exception": exception,
                        }
                    )
        entries.sort(key=lambda entry: entry["start"])
        return entries

    # the HTTP side

    def handle(self, headers, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        """Answer one POST; None means drop the connection."""
        try:
            envelope = ET.fromstring(body)
        except ET.ParseError:
            return 400, {}, b"Bad request"
        soap_body = envelope.find(f"{{{SOAP}}}Body")
        operation = soap_body[0] if soap_body is not None and len(soap_body) else None
        name = operation.tag.split("}")[-1] if operation is not None else "?"
        if self.before_request is not None:
            self.before_request(name)
        with self.lock:
            self.requests.append(name)
            fault = self._take_fault(name)
            batch = {"CreateItem": "Items", "UpdateItem": "ItemChanges", "DeleteItem": "ItemIds", "GetItem": "ItemIds"}
            if name in batch and operation.find(m(batch[name])) is not None:
                self.item_counts.append((name, len(operation.find(m(batch[name])))))
        if name in ("CreateItem", "UpdateItem", "DeleteItem"):
            attribute = {"CreateItem": "SendMeetingInvitations", "DeleteItem": "SendMeetingCancellations"}
            value = operation.get(attribute.get(name, "SendMeetingInvitationsOrCancellations"))
            self.notifications.append((name, value))
        kind, options = fault or (None, {})
        if kind == "drop":
            return None
        if kind == "401":
            return 401, {"WWW-Authenticate": 'Basic realm="127.0.0.1"'}, b""
        if kind == "500":
            page = b"<html><body><h1>Server Error in '/EWS' Application.</h1></body></html>"
            return 500, {"Content-Type": "text/html"}, page
        if kind in EXTRA_FAULTS:
            return _serve_extra_fault(self, kind, options, lambda: self._answer(headers, envelope, operation, name))
        if kind in BACK_OFF_FAULTS:
            return self._back_off_answer(kind, options)
        if kind == "late":
            return self._answer_late(headers, envelope, operation, name, options)
        answer = self._answer(headers, envelope, operation, name)
        if kind == "drop_after":  # done here, but the answer never reaches the client
            return None
        if kind == "stall_after":  # done here; the client waits for an answer until released
            self.processed.set()
            self.release.wait(60)
            return None
        return answer

    def _back_off_answer(self, kind: str, options: dict) -> tuple[int, dict[str, str], bytes]:
        """The answer of a server asking the client to wait; see the back-off section below."""
        if kind == "busy":
            return 500, {"Content-Type": "text/xml; charset=utf-8"}, self._fault(server_busy(options))
        return http_back_off(kind, options)

    # --- a slow server: the request is done after the client gave up on it -----------------------
    # fail_next("late", operation="CreateItem", seconds=2): the server waits `seconds`, then does the
    # work and answers (to a client whose timeout may have passed). `late_done` is set once the work
    # is done, so a test can wait for the server to catch up.

    def _answer_late(self, headers, envelope, operation, name: str, options: dict):
        clock.sleep(float(options.get("seconds", 2)))
        answer = self._answer(headers, envelope, operation, name)
        self.late_done.set()
        return answer

    def _take_fault(self, operation: str) -> tuple[str, dict] | None:
        """The planned fault for this request (the first one meant for its operation), or a random one.
        A planned fault with skip=N lets N such requests through first (the third page of a listing:
        skip=2)."""
        for index, (kind, options) in enumerate(self.faults):
            if options.get("operation") in (None, operation):
                if options.get("skip"):
                    options["skip"] -= 1
                    return None
                del self.faults[index]
                self.faults_served[kind] += 1
                return kind, options
        if self.fault_rate and self.random.random() < self.fault_rate:
            kind = self.random.choice(self.fault_kinds)
            self.faults_served[kind] += 1
            return kind, {"back_off_ms": 10, "retry_after": "0"}  # fast: the server asks for no real pause
        return None

    def _answer(self, headers, envelope: ET.Element, operation: ET.Element | None, name: str):
        account = _basic_user(headers.get("Authorization"))
        if account is None or self.accounts.get(account[0].lower()) != account[1]:
            return 401, {"WWW-Authenticate": 'Basic realm="127.0.0.1"'}, b""
        try:
            if operation is None:
                raise SoapFault("ErrorInvalidRequest", "The request is invalid.")
            header = envelope.find(f"{{{SOAP}}}Header")
            context = self._context(header, account[0].lower())
            handler = getattr(self, f"_op_{name}", None)
            if handler is None:
                raise SoapFault("ErrorInvalidRequest", f"The request is invalid: {name} is not supported here.")
            with self.lock:
                messages = handler(operation, context)
        except (KeyError, ValueError, TypeError, AttributeError, IndexError, StopIteration) as error:
            # A request this server cannot read: Exchange answers such with ErrorInternalServerError.
            fault = SoapFault("ErrorInternalServerError", f"An internal server error occurred: {error!r}")
            return 500, {"Content-Type": "text/xml; charset=utf-8"}, self._fault(fault)
        except SoapFault as error:
            return 500, {"Content-Type": "text/xml; charset=utf-8"}, self._fault(error)
        response = ET.Element(m(f"{name}Response"))
        container = ET.SubElement(response, m("ResponseMessages"))
        for message in messages:
            container.append(message)
        return 200, {"Content-Type": "text/xml; charset=utf-8"}, self._envelope(response)

    def _envelope(self, payload: ET.Element) -> bytes:
        envelope = ET.Element(f"{{{SOAP}}}Envelope")
        header = ET.SubElement(envelope, f"{{{SOAP}}}Header")
        ET.SubElement(
            header,
            t("ServerVersionInfo"),
            {
                "MajorVersion": "15",
                "MinorVersion": "1",
                "MajorBuildNumber": "2507",
                "MinorBuildNumber": "6",
                "Version": self.server_version,
            },
        )
        ET.SubElement(envelope, f"{{{SOAP}}}Body").append(payload)
        return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)

    def _fault(self, error: SoapFault) -> bytes:
        envelope = ET.Element(f"{{{SOAP}}}Envelope")
        body = ET.SubElement(envelope, f"{{{SOAP}}}Body")
        fault = ET.SubElement(body, f"{{{SOAP}}}Fault")
        ET.SubElement(fault, "faultcode").text = f"t:{error.code}"
        ET.SubElement(fault, "faultstring").text = error.text
        detail = ET.SubElement(fault, "detail")
        ET.SubElement(detail, f"{{{ENS}}}ResponseCode").text = error.code
        ET.SubElement(detail, f"{{{ENS}}}Message").text = error.text
        if error.values:
            xml = ET.SubElement(detail, t("MessageXml"))
            for key, value in error.values.items():
                ET.SubElement(xml, t("Value"), {"Name": key}).text = value
        return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)

    def _context(self, header: ET.Element | None, account: str) -> dict:
        """Who acts on which mailbox: the impersonated user, or the account itself (delegate access)."""
        context = {"account": account, "impersonated": None}
        if header is None:
            return context
        version = header.find(t("RequestServerVersion"))
        if version is not None and version.get("Version") not in API_VERSIONS:
            raise SoapFault("ErrorInvalidServerVersion", "The specified server version is invalid.")
        impersonation = header.find(t("ExchangeImpersonation"))
        if impersonation is not None:
            sid = impersonation.find(t("ConnectingSID"))
            address = None
            for tag in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
                found = sid.find(t(tag)) if sid is not None else None
                if found is not None and found.text:
                    address = found.text.strip().lower()
            if address is None:
                raise SoapFault("ErrorInvalidExchangeImpersonationHeaderData", "The impersonation header is invalid.")
            if account not in self.impersonators:
                raise SoapFault(
                    "ErrorImpersonateUserDenied",
                    "The account does not have permission to impersonate the requested user.",
                )
            if address not in self.mailboxes:
                raise SoapFault(
                    "ErrorNonExistentMailbox",
                    "The SMTP address has no mailbox associated with it.",
                    {"SmtpAddress": address},
                )
            context["impersonated"] = address
        return context

    def _mailbox_for(self, context: dict, address: str | None) -> Mailbox:
        """The mailbox an operation touches, checked for the caller's rights."""
        if context["impersonated"]:
            address = context["impersonated"] if address is None or address == context["impersonated"] else address
            if address != context["impersonated"]:
                raise EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        address = (address or context["account"]).lower()
        box = self.mailboxes.get(address)
        if box is None:
            raise EwsError("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        if not context["impersonated"] and address != context["account"] and context["account"] not in box.delegates:
            raise EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return box

    def _folder(self, element: ET.Element, context: dict) -> tuple[Mailbox, str]:
        """(mailbox, "root" or "calendar") for a FolderId or DistinguishedFolderId element."""
        if element.tag == t("DistinguishedFolderId"):
            address = element.findtext(f"{t('Mailbox')}/{t('EmailAddress')}")
            box = self._mailbox_for(context, address.strip().lower() if address else None)
            name = element.get("Id")
            if name not in ("root", "calendar"):
                raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
            return box, name
        parts = decode_id(element.get("Id", ""))
        if len(parts) == 3 and parts[0] == "folder2" and self.folder_id_second_form is True:
            parts[0] = "folder"  # the second form names the same folder (`folder_id_second_form`)
        if len(parts) != 3 or parts[0] != "folder":
            raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
        box = self._mailbox_for(context, parts[1])
        if parts[2] != "root" and parts[2] not in box.folders:
            raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        return box, parts[2]

    def _item_ref(self, element: ET.Element, context: dict) -> tuple[Mailbox, Item, datetime | None, str]:
        """(mailbox, item, original start of an occurrence or None, its current change key) for an ItemId,
        OccurrenceItemId or RecurringMasterItemId element."""
        tag = element.tag.split("}")[-1]
        attribute = {"ItemId": "Id", "OccurrenceItemId": "RecurringMasterId", "RecurringMasterItemId": "OccurrenceId"}
        raw_id = element.get(attribute.get(tag, "Id"), "")
        parts = decode_id(raw_id)
        if len(parts) < 3 or parts[0] not in ("item", "occ"):
            raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
        box = self._mailbox_for(context, parts[1])
        item = box.items.get(raw_id if parts[0] == "item" else parts[2])
        if item is None:
            raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.")
        original = None
        if parts[0] == "occ":
            original = parse_datetime(parts[3])
        if tag == "OccurrenceItemId":
            if item.recurrence is None:
                raise EwsError("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange", "Not a recurring item.")
            index = int(element.get("InstanceIndex", "0"))
            starts = item.original_starts()
            if not 1 <= index <= len(starts):
                raise EwsError(
                    "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange", "The occurrence index is out of range."
                )
            original = starts[index - 1]
        if tag == "RecurringMasterItemId":
            original = None
            if item.recurrence is None:
                raise EwsError("ErrorItemNotFound", "The specified object is not an occurrence of a series.")
        if original is not None and original in item.deleted:
            raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.")
        # An OccurrenceItemId's ChangeKey names a version of the master; an occurrence's own ItemId names its own.
        current = item.change_key
        if tag == "ItemId" and original in item.modified:
            current = item.modified[original].change_key
        return box, item, original, current

    # operations: each returns the list of response messages

    def _message(self, name: str, error: EwsError | None = None) -> ET.Element:
        message = ET.Element(m(f"{name}ResponseMessage"), {"ResponseClass": "Error" if error else "Success"})
        if error:
            ET.SubElement(message, m("MessageText")).text = error.text
        ET.SubElement(message, m("ResponseCode")).text = error.code if error else "NoError"
        if error:
            ET.SubElement(message, m("DescriptiveLinkKey")).text = "0"
        return message

    def _op_GetFolder(self, request: ET.Element, context: dict) -> list[ET.Element]:
        messages = []
        for element in request.find(m("FolderIds")):
            try:
                box, name = self._folder(element, context)
            except EwsError as error:
                messages.append(self._message("GetFolder", error))
                continue
            message = self._message("GetFolder")
            folders = ET.SubElement(message, m("Folders"))
            if name == "root":
                folder = ET.SubElement(folders, t("Folder"))
                ET.SubElement(folder, t("FolderId"), {"Id": box.root_id, "ChangeKey": "AQAAAA=="})
                ET.SubElement(folder, t("DisplayName")).text = "Root"
                ET.SubElement(folder, t("TotalCount")).text = "0"
                ET.SubElement(folder, t("ChildFolderCount")).text = str(
                    sum(1 for _, up in box.folders.values() if up == "root")
                )
            else:
                folders.append(_folder_element(box, name))
            messages.append(message)
        return messages

    def _op_FindFolder(self, request: ET.Element, context: dict) -> list[ET.Element]:
        """FindFolder (MS-OXWSFLDR): the calendar folders under each parent, its children (Traversal
        Shallow) or all below it (Deep), those a Restriction on folder:DisplayName or
        folder:FolderClass keeps (string comparisons ignore case, as Exchange's do), paged by
        IndexedPageFolderView."""
        deep = request.get("Traversal") == "Deep"
        restriction = request.find(m("Restriction"))
        paging = request.find(m("IndexedPageFolderView"))
        messages = []
        for parent in request.find(m("ParentFolderIds")):
            try:
                box, name = self._folder(parent, context)
                found = []
                below = [name]
                while below:
                    current = below.pop(0)
                    children = [key for key, (_, up) in box.folders.items() if up == current]
                    found += children
                    if deep:
                        below += children
                if restriction is not None:
                    found = [key for key in found if _folder_matches(box.folders[key], restriction[0])]
            except EwsError as error:
                messages.append(self._message("FindFolder", error))
                continue
            message = self._message("FindFolder")
            root = ET.SubElement(message, m("RootFolder"))
            page = _indexed_page(found, paging, root)
            folders = ET.SubElement(root, t("Folders"))
            for key in page:
                folders.append(_folder_element(box, key))
            messages.append(message)
        return messages

    def _op_CreateItem(self, request: ET.Element, context: dict) -> list[ET.Element]:
        invitations = request.get("SendMeetingInvitations")
        target = request.find(m("SavedItemFolderId"))
        messages = []
        try:
            if target is None:
                box = self._mailbox_for(context, None)
            else:
                box, name = self._folder(target[0], context)
                if name == "root":
                    raise EwsError("ErrorInvalidOperation", "Calendar items go in a calendar folder.")
        except EwsError as error:
            return [self._message("CreateItem", error)]
        folder_key = "calendar" if target is None else name
        for element in request.find(m("Items")):
            if element.tag != t("CalendarItem"):
                messages.append(self._message("CreateItem", EwsError("ErrorInvalidItemForOperationCreateItem")))
                continue
            if invitations is None:
                messages.append(
                    self._message(
                        "CreateItem",
                        EwsError(
                            "ErrorSendMeetingInvitationsRequired",
                            "SendMeetingInvitations attribute is required for calendar items.",
                        ),
                    )
                )
                continue
            item = Item(encode_id("item", box.address, uuid.uuid4().hex), new_change_key(), box.address)
            item.folder = folder_key
            try:
                for child in element:
                    _apply_property(item, child)
                _check_item(item)
                self._check_refusals(item)
                self._check_rights(box, item, write=True)
            except EwsError as error:
                messages.append(self._message("CreateItem", error))
                continue
            if item.recurrence is not None and item.recurrence.start_date is None:
                item.recurrence.start_date = item.start.astimezone(ZoneInfo(iana_for(item.start_tz))).date()
            self._store(box, item, created=True)
            if invitations in ("SendOnlyToAll", "SendToAllAndSaveCopy"):
                self._deliver_invitations(box, item)
            message = self._message("CreateItem")
            items = ET.SubElement(message, m("Items"))
            created = ET.SubElement(items, t("CalendarItem"))
            ET.SubElement(created, t("ItemId"), {"Id": item.item_id, "ChangeKey": item.change_key})
            messages.append(message)
        return messages

    def _op_GetItem(self, request: ET.Element, context: dict) -> list[ET.Element]:
        shape = _Shape(request.find(m("ItemShape")))
        messages = []
        for element in request.find(m("ItemIds")):
            try:
                _box, item, original, _key = self._item_ref(element, context)
                self._check_rights(_box, item, write=False)
                moved = item.modified.get(original) if original is not None else None
                subject = (moved.subject if moved is not None else None) or item.subject or ""
                for needle, code, text in self.read_refusals:
                    if needle in subject:
                        raise EwsError(code, text)
            except EwsError as error:
                messages.append(self._message("GetItem", error))
                continue
            message = self._message("GetItem")
            items = ET.SubElement(message, m("Items"))
            element = _item_element(item, shape, original=original, full=True)
            parent = element.find(t("ParentFolderId"))
            if self.folder_id_second_form and parent is not None:
                parent.set("Id", second_form(item.mailbox, item.folder))
            items.append(element)
            messages.append(message)
        return messages

    def _op_FindItem(self, request: ET.Element, context: dict) -> list[ET.Element]:
        shape = _Shape(request.find(m("ItemShape")))
        view = request.find(m("CalendarView"))
        paging = request.find(m("IndexedPageItemView"))
        restriction = request.find(m("Restriction"))
        messages = []
        for folder in request.find(m("ParentFolderIds")):
            try:
                box, name = self._folder(folder, context)
                if name == "root":
                    raise EwsError("ErrorFolderNotFound", "Only calendar folders are kept here.")
                if view is not None and restriction is not None:
                    raise EwsError("ErrorInvalidRestriction", "Restrictions are not allowed with a CalendarView.")
            except EwsError as error:
                messages.append(self._message("FindItem", error))
                continue
            message = self._message("FindItem")
            root = ET.SubElement(message, m("RootFolder"))
            items = ET.SubElement(root, t("Items"))
            if view is not None:
                start, end = parse_datetime(view.get("StartDate")), parse_datetime(view.get("EndDate"))
                entries = self._expand(box, start, end, name)
                limit = int(view.get("MaxEntriesReturned") or 0) or len(entries)
                for entry in entries[:limit]:
                    items.append(_item_element(entry["item"], shape, original=entry["original_start"]))
                root.set("TotalItemsInView", str(len(entries)))
                root.set("IncludesLastItemInRange", "true" if limit >= len(entries) else "false")
            else:
                found = [item for item in box.items.values() if item.folder == name and _matches(item, restriction)]
                found.sort(key=lambda item: item.start)
                for item in _indexed_page(found, paging, root):
                    items.append(_item_element(item, shape))
            messages.append(message)
        return messages

    def _op_UpdateItem(self, request: ET.Element, context: dict) -> list[ET.Element]:
        resolution = request.get("ConflictResolution", "AutoResolve")
        invitations = request.get("SendMeetingInvitationsOrCancellations")
        messages = []
        for change in request.find(m("ItemChanges")):
            try:
                if invitations is None:
                    raise EwsError(
                        "ErrorSendMeetingInvitationsOrCancellationsRequired",
                        "SendMeetingInvitationsOrCancellations attribute is required for calendar items.",
                    )
                reference = next(c for c in change if c.tag != t("Updates"))
                box, item, original, current_key = self._item_ref(reference, context)
                self._check_rights(box, item, write=True)
                given_key = reference.get("ChangeKey")
                if resolution != "AlwaysOverwrite":
                    if not given_key:
                        raise EwsError(
                            "ErrorChangeKeyRequiredForWriteOperations", "A change key is required for this operation."
                        )
                    if given_key != current_key:
                        raise EwsError(
                            "ErrorIrresolvableConflict",
                            "The send or update operation could not be performed because the change key passed in the "
                            "request does not match the current change key for the item.",
                        )
                target = item if original is None else self._exception_for(item, original)
                if original is None and self.refusals:  # refused as a whole: nothing of it is saved
                    probe = copy.deepcopy(item)
                    for update in change.find(t("Updates")):
                        _apply_update(probe, update)
                    self._check_refusals(probe)
                for update in change.find(t("Updates")):
                    _apply_update(target, update)
                if original is None:
                    _check_item(item)
                self._touch(box, item)
                if original is not None:
                    target.change_key = new_change_key()
            except EwsError as error:
                messages.append(self._message("UpdateItem", error))
                continue
            message = self._message("UpdateItem")
            items = ET.SubElement(message, m("Items"))
            updated = ET.SubElement(items, t("CalendarItem"))
            if original is None:
                ET.SubElement(updated, t("ItemId"), {"Id": item.item_id, "ChangeKey": item.change_key})
            else:
                ET.SubElement(updated, t("ItemId"), {"Id": target.item_id, "ChangeKey": target.change_key})
            results = ET.SubElement(message, m("ConflictResults"))
            ET.SubElement(results, t("Count")).text = "0"
            messages.append(message)
        return messages

    def _exception_for(self, master: Item, original: datetime) -> Exception_:
        if original not in master.modified:
            duration = master.end - master.start
            master.modified[original] = Exception_(
                _occurrence_id(master, original), new_change_key(), original, original + duration
            )
        return master.modified[original]

    def _op_DeleteItem(self, request: ET.Element, context: dict) -> list[ET.Element]:
        cancellations = request.get("SendMeetingCancellations")
        messages = []
        for element in request.find(m("ItemIds")):
            try:
                if cancellations is None:
                    raise EwsError(
                        "ErrorSendMeetingCancellationsRequired",
                        "SendMeetingCancellations attribute is required for calendar items.",
                    )
                box, item, original, _key = self._item_ref(element, context)
                self._check_rights(box, item, write=True)
                if original is None:
                    del box.items[item.item_id]
                    self._log_delete(box, item.item_id)
                else:
                    item.modified.pop(original, None)
                    item.deleted.add(original)
                    self._touch(box, item)
            except EwsError as error:
                messages.append(self._message("DeleteItem", error))
                continue
            messages.append(self._message("DeleteItem"))
        return messages

    def _op_SyncFolderItems(self, request: ET.Element, context: dict) -> list[ET.Element]:
        shape = _Shape(request.find(m("ItemShape")))
        folder = request.find(m("SyncFolderId"))[0]
        state_text = request.findtext(m("SyncState"))
        max_changes = int(request.findtext(m("MaxChangesReturned")) or "0")
        try:
            box, name = self._folder(folder, context)
            if name == "root":
                raise EwsError("ErrorFolderNotFound", "Only calendar folders are kept here.")
            if not 1 <= max_changes <= 512:
                raise EwsError("ErrorInvalidArgument", "MaxChangesReturned must be between 1 and 512.")
            since = 0
            if state_text:
                try:
                    state = json.loads(base64.b64decode(state_text))
                except ValueError:
                    state = None
                if (
                    not isinstance(state, dict)
                    or state.get("m") != box.address
                    or state.get("f", "calendar") != name
                    or state.get("g") != box.sync_generation
                ):
                    raise EwsError(
                        "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
                    )
                since = int(state["s"])
        except EwsError as error:
            # Exchange still sends an empty SyncState and IncludesLastItemInRange with an error.
            message = self._message("SyncFolderItems", error)
            ET.SubElement(message, m("SyncState"))
            ET.SubElement(message, m("IncludesLastItemInRange")).text = "true"
            return [message]
        pending = sorted(
            (
                (change.seq, item_id, change)
                for item_id, change in box.changes.items()
                if change.folder == name and change.seq > since and not (change.deleted and change.created_seq > since)
            ),
            key=lambda row: row[0],
        )
        page = pending[:max_changes]
        last = len(page) == len(pending)
        new_since = self.seq if last else page[-1][0]
        message = self._message("SyncFolderItems")
        state = {"m": box.address, "g": box.sync_generation, "s": new_since}
        if name != "calendar":  # the default calendar's states stay as they were
            state["f"] = name
        ET.SubElement(message, m("SyncState")).text = base64.b64encode(json.dumps(state).encode()).decode()
        ET.SubElement(message, m("IncludesLastItemInRange")).text = "true" if last else "false"
        changes = ET.SubElement(message, m("Changes"))
        for _seq, item_id, change in page:
            if change.deleted:
                ET.SubElement(ET.SubElement(changes, t("Delete")), t("ItemId"), {"Id": item_id})
                continue
            kind = "Create" if change.created_seq > since else "Update"
            ET.SubElement(changes, t(kind)).append(_item_element(box.items[item_id], shape, full=True))
        return [message]


class _Handler(BaseHTTPRequestHandler):
    ews: EwsServer
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY on each connection: the handler writes the headers and the body in two sends, and
    # with Nagle's algorithm the body waited for the client's delayed ACK (40 ms on Linux) - about
    # 44 ms a request instead of 1-2 (StreamRequestHandler.disable_nagle_algorithm).
    disable_nagle_algorithm = True

    def log_message(self, format, *args) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.lower() != "/ews/exchange.asmx":
            self._send(404, {}, b"Not found")
            return
        answer = self.ews.handle(self.headers, body)
        if answer is None:
            self.close_connection = True
            return
        self._send(*answer)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _basic_user(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _span(start: datetime | date, end: datetime | date, zone: str) -> tuple[datetime, datetime, bool]:
    if isinstance(start, datetime):
        return start.astimezone(UTC), end.astimezone(UTC), False
    tz = ZoneInfo(zone)
    return (
        datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC),
        datetime.combine(end, time(0), tzinfo=tz).astimezone(UTC),
        True,
    )


def _occurrence_id(master: Item, original_start: datetime) -> str:
    return encode_id("occ", master.mailbox, master.item_id, original_start.isoformat())


# --- item properties: parse what a client sends, render what it asks for ----------------------

# FieldURI -> element name, in the order of the CalendarItem schema (MS-OXWSCORE / MS-OXWSMTGS).
ITEM_FIELDS = {
    "item:ItemId": "ItemId",
    "item:ParentFolderId": "ParentFolderId",
    "item:ItemClass": "ItemClass",
    "item:Subject": "Subject",
    "item:Sensitivity": "Sensitivity",
    "item:Body": "Body",
    "item:Categories": "Categories",
    "item:DateTimeCreated": "DateTimeCreated",
    "item:ReminderIsSet": "ReminderIsSet",
    "item:ReminderMinutesBeforeStart": "ReminderMinutesBeforeStart",
    "item:ExtendedProperty": "ExtendedProperty",
    "item:LastModifiedTime": "LastModifiedTime",
    "calendar:UID": "UID",
    "calendar:Start": "Start",
    "calendar:End": "End",
    "calendar:OriginalStart": "OriginalStart",
    "calendar:IsAllDayEvent": "IsAllDayEvent",
    "calendar:LegacyFreeBusyStatus": "LegacyFreeBusyStatus",
    "calendar:Location": "Location",
    "calendar:IsMeeting": "IsMeeting",
    "calendar:MyResponseType": "MyResponseType",
    "calendar:Organizer": "Organizer",
    "calendar:RequiredAttendees": "RequiredAttendees",
    "calendar:IsCancelled": "IsCancelled",
    "calendar:IsRecurring": "IsRecurring",
    "calendar:CalendarItemType": "CalendarItemType",
    "calendar:Recurrence": "Recurrence",
    "calendar:FirstOccurrence": "FirstOccurrence",
    "calendar:ModifiedOccurrences": "ModifiedOccurrences",
    "calendar:DeletedOccurrences": "DeletedOccurrences",
    "calendar:StartTimeZone": "StartTimeZone",
    "calendar:EndTimeZone": "EndTimeZone",
}
DEFAULT_SHAPE = {"ItemId", "ParentFolderId", "ItemClass", "Subject", "Sensitivity", "ReminderIsSet"}
DEFAULT_SHAPE |= {"Start", "End", "IsAllDayEvent", "LegacyFreeBusyStatus", "Location", "CalendarItemType"}


class _Shape:
    def __init__(self, element: ET.Element | None) -> None:
        base = element.findtext(t("BaseShape")) if element is not None else "Default"
        self.names = {"ItemId"}
        if base == "Default":
            self.names |= DEFAULT_SHAPE
        elif base == "AllProperties":
            self.names |= set(ITEM_FIELDS.values()) - {"ExtendedProperty"}
        self.extended: list[tuple[str, str, str]] = []
        extra = element.find(t("AdditionalProperties")) if element is not None else None
        for child in extra if extra is not None else ():
            if child.tag == t("FieldURI") and child.get("FieldURI") in ITEM_FIELDS:
                self.names.add(ITEM_FIELDS[child.get("FieldURI")])
            elif child.tag == t("ExtendedFieldURI"):
                self.extended.append(_extended_key(child))


def _extended_key(element: ET.Element) -> tuple[str, str, str]:
    property_set = element.get("DistinguishedPropertySetId") or (element.get("PropertySetId") or "").lower()
    name = element.get("PropertyName") or element.get("PropertyId") or element.get("PropertyTag") or ""
    return property_set, name, element.get("PropertyType", "String")


def _item_element(item: Item, shape: _Shape, *, original: datetime | None = None, full: bool = False) -> ET.Element:
    """A CalendarItem element for the master/single item, or for one of its occurrences."""
    exception = item.modified.get(original) if original is not None else None
    if original is None:
        item_id, change_key = item.item_id, item.change_key
        start, end = item.start, item.end
        kind = "RecurringMaster" if item.recurrence else "Single"
    else:
        item_id = exception.item_id if exception else _occurrence_id(item, original)
        change_key = exception.change_key if exception else item.change_key
        duration = item.end - item.start
        start, end = (exception.start, exception.end) if exception else (original, original + duration)
        kind = "Exception" if exception else "Occurrence"
    subject = exception.subject if exception and exception.subject is not None else item.subject
    location = exception.location if exception and exception.location is not None else item.location
    body = exception.body if exception and exception.body is not None else item.body
    element = ET.Element(t("CalendarItem"))

    def add(name: str, text: str | None = None, **attrs) -> ET.Element | None:
        if name not in shape.names:
            return None
        child = ET.SubElement(element, t(name), attrs)
        if text is not None:
            child.text = text
        return child

    add("ItemId", Id=item_id, ChangeKey=change_key)
    # The folder that holds the item (MS-OXWSCORE t:ItemType ParentFolderId), not always the default one.
    add("ParentFolderId", Id=encode_id("folder", item.mailbox, item.folder), ChangeKey="AgAAAA==")
    add("ItemClass", "IPM.Appointment")
    add("Subject", subject)
    add("Sensitivity", exception.sensitivity if exception and exception.sensitivity else item.sensitivity)
    if full:
        add("Body", body, BodyType=item.body_type)
    if item.categories:
        categories = add("Categories")
        for name in item.categories if categories is not None else ():
            ET.SubElement(categories, t("String")).text = name
    add("DateTimeCreated", ews_datetime(item.created))
    add("ReminderIsSet", _bool(item.reminder_is_set))
    add("ReminderMinutesBeforeStart", str(item.reminder_minutes))
    for key in shape.extended:
        if key in item.extended:
            prop = ET.SubElement(element, t("ExtendedProperty"))
            attrs = {"PropertyName": key[1], "PropertyType": key[2]}
            attrs["DistinguishedPropertySetId" if not key[0].count("-") else "PropertySetId"] = key[0]
            ET.SubElement(prop, t("ExtendedFieldURI"), attrs)
            value = item.extended[key]
            if isinstance(value, list):  # a multi-valued property (an ...Array type): t:Values
                values = ET.SubElement(prop, t("Values"))
                for one in value:
                    ET.SubElement(values, t("Value")).text = one
            else:
                ET.SubElement(prop, t("Value")).text = value
    add("LastModifiedTime", ews_datetime(item.last_modified))
    add("UID", item.uid)
    add("Start", ews_datetime(start))
    add("End", ews_datetime(end))
    if original is not None:
        add("OriginalStart", ews_datetime(original))
    add("IsAllDayEvent", _bool(item.is_all_day))
    add("LegacyFreeBusyStatus", item.free_busy)
    add("Location", location)
    add("IsMeeting", _bool(bool(item.attendees)))
    add("MyResponseType", item.my_response_type)
    organizer = add("Organizer")
    if organizer is not None:
        mailbox = ET.SubElement(organizer, t("Mailbox"))
        ET.SubElement(mailbox, t("EmailAddress")).text = item.organizer or item.mailbox
    if item.attendees:
        required = add("RequiredAttendees")
        for address in item.attendees if required is not None else ():
            attendee = ET.SubElement(required, t("Attendee"))
            ET.SubElement(ET.SubElement(attendee, t("Mailbox")), t("EmailAddress")).text = address
    add("IsCancelled", "false")
    add("IsRecurring", _bool(item.recurrence is not None))
    add("CalendarItemType", kind)
    if item.recurrence is not None and original is None:
        recurrence = add("Recurrence")
        if recurrence is not None:
            _recurrence_element(recurrence, item.recurrence)
        starts = item.original_starts()
        if starts:
            first = add("FirstOccurrence")
            if first is not None:
                ET.SubElement(first, t("ItemId"), Id=_occurrence_id(item, starts[0]), ChangeKey=item.change_key)
                ET.SubElement(first, t("Start")).text = ews_datetime(starts[0])
                ET.SubElement(first, t("End")).text = ews_datetime(starts[0] + (item.end - item.start))
                ET.SubElement(first, t("OriginalStart")).text = ews_datetime(starts[0])
        if item.modified:
            modified = add("ModifiedOccurrences")
            for original_start, exc in sorted(item.modified.items()) if modified is not None else ():
                occurrence = ET.SubElement(modified, t("Occurrence"))
                ET.SubElement(occurrence, t("ItemId"), Id=exc.item_id, ChangeKey=exc.change_key)
                ET.SubElement(occurrence, t("Start")).text = ews_datetime(exc.start)
                ET.SubElement(occurrence, t("End")).text = ews_datetime(exc.end)
                ET.SubElement(occurrence, t("OriginalStart")).text = ews_datetime(original_start)
        if item.deleted:
            deleted = add("DeletedOccurrences")
            for original_start in sorted(item.deleted) if deleted is not None else ():
                ET.SubElement(ET.SubElement(deleted, t("DeletedOccurrence")), t("Start")).text = ews_datetime(
                    original_start
                )
    add("StartTimeZone", Id=item.start_tz, Name=item.start_tz)
    add("EndTimeZone", Id=item.end_tz, Name=item.end_tz)
    return element


def _recurrence_element(parent: ET.Element, recurrence: Recurrence) -> None:
    pattern = ET.SubElement(parent, t(recurrence.pattern))
    if recurrence.pattern in ("DailyRecurrence", "WeeklyRecurrence", "AbsoluteMonthlyRecurrence"):
        ET.SubElement(pattern, t("Interval")).text = str(recurrence.interval)
    if recurrence.pattern == "RelativeMonthlyRecurrence":
        ET.SubElement(pattern, t("Interval")).text = str(recurrence.interval)
    if recurrence.pattern in ("WeeklyRecurrence", "RelativeMonthlyRecurrence", "RelativeYearlyRecurrence"):
        ET.SubElement(pattern, t("DaysOfWeek")).text = " ".join(recurrence.days_of_week)
    if recurrence.pattern in ("RelativeMonthlyRecurrence", "RelativeYearlyRecurrence"):
        ET.SubElement(pattern, t("DayOfWeekIndex")).text = recurrence.day_of_week_index
    if recurrence.pattern in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        ET.SubElement(pattern, t("DayOfMonth")).text = str(recurrence.day_of_month)
    if recurrence.pattern in ("AbsoluteYearlyRecurrence", "RelativeYearlyRecurrence"):
        ET.SubElement(pattern, t("Month")).text = recurrence.month
    if recurrence.pattern == "WeeklyRecurrence":
        ET.SubElement(pattern, t("FirstDayOfWeek")).text = recurrence.first_day_of_week
    span = ET.SubElement(parent, t(recurrence.range))
    ET.SubElement(span, t("StartDate")).text = recurrence.start_date.isoformat() if recurrence.start_date else ""
    if recurrence.range == "EndDateRecurrence":
        ET.SubElement(span, t("EndDate")).text = recurrence.end_date.isoformat()
    if recurrence.range == "NumberedRecurrence":
        ET.SubElement(span, t("NumberOfOccurrences")).text = str(recurrence.count)


def _parse_recurrence(element: ET.Element) -> Recurrence:
    pattern, span = element[0], element[1]
    recurrence = Recurrence(pattern=pattern.tag.split("}")[-1], range=span.tag.split("}")[-1])
    recurrence.interval = int(pattern.findtext(t("Interval")) or 1)
    recurrence.days_of_week = (pattern.findtext(t("DaysOfWeek")) or "").split()
    recurrence.first_day_of_week = pattern.findtext(t("FirstDayOfWeek")) or "Monday"
    day = pattern.findtext(t("DayOfMonth"))
    recurrence.day_of_month = int(day) if day else None
    recurrence.day_of_week_index = pattern.findtext(t("DayOfWeekIndex"))
    recurrence.month = pattern.findtext(t("Month"))
    for name in recurrence.days_of_week:
        if name not in WEEKDAYS and name not in DAY_GROUPS:
            raise EwsError("ErrorSchemaValidation", f"Bad day of week {name}")
    start_text = span.findtext(t("StartDate"))
    recurrence.start_date = date.fromisoformat(start_text[:10]) if start_text else None
    end_text = span.findtext(t("EndDate"))
    recurrence.end_date = date.fromisoformat(end_text[:10]) if end_text else None
    count = span.findtext(t("NumberOfOccurrences"))
    recurrence.count = int(count) if count else None
    return recurrence


def _true(text: str) -> bool:
    return text.strip() in ("true", "1")  # xs:boolean


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _apply_property(item: Item | Exception_, element: ET.Element) -> None:
    """Set one property of a CalendarItem element on the item (or on an occurrence's exception)."""
    name = element.tag.split("}")[-1]
    text = element.text or ""
    if isinstance(item, Exception_):
        allowed = {"Subject": "subject", "Location": "location", "Body": "body"}
        if name in allowed:
            setattr(item, allowed[name], text)
        elif name in ("Start", "End"):
            setattr(item, name.lower(), parse_datetime(text))
        elif name not in ("StartTimeZone", "EndTimeZone", "ReminderIsSet", "ReminderMinutesBeforeStart"):
            raise EwsError("ErrorInvalidPropertyForOperation", f"{name} cannot be changed on one occurrence.")
        return
    if name == "Subject":
        item.subject = text
    elif name == "Body":
        item.body, item.body_type = text, element.get("BodyType", "Text")
    elif name == "Sensitivity":
        if text not in ("Normal", "Personal", "Private", "Confidential"):
            raise EwsError("ErrorSchemaValidation", f"Bad Sensitivity {text}")
        item.sensitivity = text
    elif name == "Categories":  # t:ArrayOfStringsType
        item.categories = [child.text or "" for child in element if child.tag == t("String")]
    elif name == "ReminderIsSet":
        item.reminder_is_set = _true(text)
    elif name == "ReminderMinutesBeforeStart":
        item.reminder_minutes = int(text)
    elif name == "ExtendedProperty":
        values = element.find(t("Values"))  # a multi-valued property: t:Values of t:Value
        item.extended[_extended_key(element.find(t("ExtendedFieldURI")))] = (
            [value.text or "" for value in values if value.tag == t("Value")]
            if values is not None
            else element.findtext(t("Value")) or ""
        )
    elif name == "Start":
        item.start = parse_datetime(text)
    elif name == "End":
        item.end = parse_datetime(text)
    elif name == "IsAllDayEvent":
        item.is_all_day = _true(text)
    elif name == "LegacyFreeBusyStatus":
        if text not in ("Free", "Tentative", "Busy", "OOF", "WorkingElsewhere", "NoData"):
            raise EwsError("ErrorSchemaValidation", f"Bad LegacyFreeBusyStatus {text}")
        item.free_busy = text
    elif name == "Location":
        item.location = text
    elif name == "Recurrence":
        item.recurrence = _parse_recurrence(element)
        item.modified.clear()
        item.deleted.clear()
    elif name in ("StartTimeZone", "EndTimeZone"):
        zone = element.get("Id") or ""
        if zone not in WINDOWS_TO_OLSON and zone not in MS_TIMEZONE_TO_IANA_MAP and zone != "UTC":
            raise EwsError("ErrorTimeZone", f"The time zone {zone} is not valid.")
        setattr(item, "start_tz" if name == "StartTimeZone" else "end_tz", zone)
    elif name == "UID":
        item.uid = text
    elif name in ("IsResponseRequested", "AllowNewTimeProposal", "ConferenceType", "Importance"):
        pass  # accepted and not kept: nothing in this calendar depends on them
    elif name in ("RequiredAttendees", "OptionalAttendees", "Resources"):
        item.attendees += [
            address.text.lower() for address in element.iter(t("EmailAddress")) if address.text and address.text.strip()
        ]
    else:
        raise EwsError("ErrorInvalidPropertySet", f"{name} cannot be set on a calendar item here.")


def _check_item(item: Item) -> None:
    if item.end < item.start:
        raise EwsError("ErrorCalendarEndDateIsEarlierThanStartDate", "EndDate is earlier than StartDate")
    if item.is_all_day:
        # Exchange pushes all-day entries to midnight of the start time zone.
        zone = ZoneInfo(iana_for(item.start_tz))
        item.start = datetime.combine(item.start.astimezone(zone).date(), time(0), tzinfo=zone).astimezone(UTC)
        local_end = item.end.astimezone(zone)
        end_day = local_end.date() + (timedelta(days=1) if local_end.time() != time(0) else timedelta(0))
        item.end = datetime.combine(end_day, time(0), tzinfo=zone).astimezone(UTC)


DELETABLE = {
    "Subject": ("subject", ""),
    "Body": ("body", ""),
    "Location": ("location", ""),
    "ReminderMinutesBeforeStart": ("reminder_minutes", 15),
    "Sensitivity": ("sensitivity", "Normal"),
    "Categories": ("categories", []),
}


def _apply_update(item: Item | Exception_, update: ET.Element) -> None:
    kind = update.tag.split("}")[-1]
    path = update[0]
    if path.tag == t("ExtendedFieldURI"):
        key = _extended_key(path)
        if kind == "DeleteItemField":
            if isinstance(item, Item):
                item.extended.pop(key, None)
            return
        value = update[1].find(t("ExtendedProperty")) if len(update) > 1 else None
        if value is None:
            raise EwsError("ErrorIncorrectUpdatePropertyCount", "An object in the update must have one property.")
        if isinstance(item, Item):
            _apply_property(item, value)
        return
    uri = path.get("FieldURI", "")
    name = ITEM_FIELDS.get(uri)
    if name is None:
        raise EwsError("ErrorInvalidPropertyForOperation", f"{uri} cannot be changed here.")
    if kind == "DeleteItemField":
        if name == "Recurrence" and isinstance(item, Item):
            item.recurrence = None
            item.modified.clear()
            item.deleted.clear()
        elif name in DELETABLE and isinstance(item, Item):
            attribute, default = DELETABLE[name]
            setattr(item, attribute, copy.copy(default))
        elif name in ("StartTimeZone", "EndTimeZone", "ReminderIsSet", "IsResponseRequested"):
            pass
        elif not isinstance(item, Exception_):
            raise EwsError("ErrorInvalidPropertyDelete", f"{uri} cannot be deleted.")
        return
    values = [child for child in update[1]] if len(update) > 1 else []
    if len(values) != 1:
        raise EwsError("ErrorIncorrectUpdatePropertyCount", "An object in the update must have exactly one property.")
    _apply_property(item, values[0])


def _indexed_page(found: list, paging: ET.Element | None, root: ET.Element) -> list:
    """The part of `found` an IndexedPage(Item|Folder)View asks for (Offset, MaxEntriesReturned from
    the beginning), with the paging attributes set on the answer's RootFolder."""
    offset = int(paging.get("Offset", "0")) if paging is not None else 0
    limit = int(paging.get("MaxEntriesReturned") or 0) if paging is not None else 0
    page = found[offset : offset + limit] if limit else found[offset:]
    root.set("IndexedPagingOffset", str(offset + len(page)))
    root.set("TotalItemsInView", str(len(found)))
    root.set("IncludesLastItemInRange", "true" if offset + len(page) >= len(found) else "false")
    return page


def _folder_element(box: Mailbox, key: str) -> ET.Element:
    """A t:CalendarFolder of the mailbox, as GetFolder and FindFolder answer it."""
    name, parent = box.folders[key]
    folder = ET.Element(t("CalendarFolder"))
    ET.SubElement(folder, t("FolderId"), {"Id": encode_id("folder", box.address, key), "ChangeKey": "AgAAAA=="})
    ET.SubElement(
        folder, t("ParentFolderId"), {"Id": encode_id("folder", box.address, parent), "ChangeKey": "AQAAAA=="}
    )
    ET.SubElement(folder, t("FolderClass")).text = "IPF.Appointment"
    ET.SubElement(folder, t("DisplayName")).text = name
    ET.SubElement(folder, t("TotalCount")).text = str(sum(1 for item in box.items.values() if item.folder == key))
    ET.SubElement(folder, t("ChildFolderCount")).text = str(sum(1 for _, up in box.folders.values() if up == key))
    # The account's rights on the folder (MS-OXWSCDATA 2.2.4.32 t:EffectiveRightsType): all of them,
    # or Read (and ViewPrivateItems off) alone on a folder it may only read.
    rights = ET.SubElement(folder, t("EffectiveRights"))
    writable = key not in box.read_only
    for name in ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete", "Modify"):
        ET.SubElement(rights, t(name)).text = "true" if writable else "false"
    ET.SubElement(rights, t("Read")).text = "true"
    ET.SubElement(rights, t("ViewPrivateItems")).text = "false"
    return folder


def _folder_matches(folder: tuple[str, str], expression: ET.Element) -> bool:
    """A FindFolder Restriction on one folder (display name, parent): And/Or/Not of comparisons of
    folder:DisplayName or folder:FolderClass with a constant."""
    kind = expression.tag.split("}")[-1]
    if kind in ("And", "Or"):
        results = [_folder_matches(folder, child) for child in expression]
        return all(results) if kind == "And" else any(results)
    if kind == "Not":
        return not _folder_matches(folder, expression[0])
    path = expression[0].get("FieldURI", "")
    values = {"folder:DisplayName": folder[0], "folder:FolderClass": "IPF.Appointment"}
    if expression[0].tag != t("FieldURI") or path not in values:
        raise EwsError("ErrorUnsupportedPathForQuery", f"{path or expression[0].tag} cannot be queried here.")
    value = values[path].lower()
    if kind == "Contains":
        return expression.find(t("Constant")).get("Value", "").lower() in value
    constant = expression.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
    if constant is None or kind not in ("IsEqualTo", "IsNotEqualTo"):
        raise EwsError("ErrorUnsupportedQueryFilter", f"{kind} is not supported on folders here.")
    return (value == constant.get("Value", "").lower()) == (kind == "IsEqualTo")


def _matches(item: Item, restriction: ET.Element | None) -> bool:
    if restriction is None:
        return True
    return _evaluate(item, restriction[0])


def _value_of(item: Item, path: ET.Element) -> str | None:
    if path.tag == t("ExtendedFieldURI"):
        return item.extended.get(_extended_key(path))
    name = ITEM_FIELDS.get(path.get("FieldURI", ""))
    values = {
        "Subject": item.subject,
        "Location": item.location,
        "UID": item.uid,
        "Start": ews_datetime(item.start),
        "End": ews_datetime(item.end),
        "Sensitivity": item.sensitivity,
        "LegacyFreeBusyStatus": item.free_busy,
        "IsAllDayEvent": _bool(item.is_all_day),
        "ItemClass": "IPM.Appointment",
    }
    return values.get(name)


def _evaluate(item: Item, expression: ET.Element) -> bool:
    kind = expression.tag.split("}")[-1]
    if kind == "And":
        return all(_evaluate(item, child) for child in expression)
    if kind == "Or":
        return any(_evaluate(item, child) for child in expression)
    if kind == "Not":
        return not _evaluate(item, expression[0])
    value = _value_of(item, expression[0])
    if kind == "Exists":
        return value is not None
    if kind == "Contains":
        constant = expression.find(t("Constant")).get("Value", "")
        return value is not None and constant.lower() in value.lower()
    constant_element = expression.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
    if constant_element is None:
        raise EwsError("ErrorUnsupportedQueryFilter", "Only comparisons with a constant are supported here.")
    constant = constant_element.get("Value", "")
    if value is None:
        return kind == "IsNotEqualTo"
    if expression[0].tag == t("FieldURI") and expression[0].get("FieldURI") in ("calendar:Start", "calendar:End"):
        value, constant = parse_datetime(value), parse_datetime(constant)
    comparisons = {
        "IsEqualTo": lambda a, b: a == b,
        "IsNotEqualTo": lambda a, b: a != b,
        "IsGreaterThan": lambda a, b: a > b,
        "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
        "IsLessThan": lambda a, b: a < b,
        "IsLessThanOrEqualTo": lambda a, b: a <= b,
    }
    if kind not in comparisons:
        raise EwsError("ErrorUnsupportedQueryFilter", f"{kind} is not supported here.")
    return comparisons[kind](value, constant)


# --- faults added for the sync state machine (issue 9): a late answer, 503 with Retry-After --------


def _serve_extra_fault(server: EwsServer, kind: str, options: dict, answer) -> tuple[int, dict[str, str], bytes]:
    """answer_late: do the work at once, answer after `late_seconds` (longer than the client's timeout,
    so it has given up: a CreateItem done twice if the client retries blindly).
    busy_with_retry_after: HTTP 503 with Retry-After (seconds, option `retry_after`), as a load balancer
    or IIS in front of Exchange answers; the request does nothing."""
    if kind == "busy_with_retry_after":
        headers = {"Retry-After": str(options.get("retry_after", 3)), "Content-Type": "text/plain"}
        return 503, headers, b"Service Unavailable"
    result = answer()
    clock.sleep(server.late_seconds)
    return result
