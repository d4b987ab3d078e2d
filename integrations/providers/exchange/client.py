"""Exchange Server (2013/2016/2019/SE, on-premises or hybrid) over EWS, with exchangelib.

One service account reaches every technician's mailbox, either with the ApplicationImpersonation
role (the usual set-up) or with delegate rights on each calendar. Pull uses SyncFolderItems and
its sync state; a refused state means a full listing of the window with CalendarView. Push uses
CreateItem / UpdateItem / DeleteItem and never sends invitations or cancellations; an update
sets only the helpdesk-owned fields that changed, so Outlook's categories, the user's reminder and
other properties stay. Our link id lives in an extended property, so a retried create finds the
first one; change keys are the version tags. Calls run under base.RetryPolicy; exchangelib itself
fails fast, passing on the server's back-off (Retry-After, BackOffMilliseconds) as errors.py says.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import re
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.fields import FieldPath
from exchangelib.folders import DEEP, Calendar, FolderCollection, Root
from exchangelib.items import (
    ALL_OCCURRENCES,
    ALWAYS_OVERWRITE,
    HARD_DELETE,
    ID_ONLY,
    NEVER_OVERWRITE,
    SAVE_ONLY,
    SEND_TO_NONE,
)
from exchangelib.properties import OccurrenceItemId, RecurringMasterItemId
from exchangelib.protocol import Protocol
from exchangelib.services import CreateItem, DeleteItem, GetItem, SyncFolderItems, UpdateItem
from exchangelib.version import EXCHANGE_2013, EXCHANGE_2013_SP1, EXCHANGE_2016, EXCHANGE_2019

from ..base import (
    DEFAULT_MAX_INLINE_WAIT,
    BulkOp,
    BulkResult,
    CalendarRights,
    ChangePage,
    ConnectionProblem,
    NamedCalendar,
    ProviderError,
    RemoteCalendar,
    RemoteEvent,
    RemoteNotFound,
    RemoteRef,
    RetryPolicy,
    TransientError,
    UnreadableEntry,
    VersionConflict,
    Window,
    choose_calendar,
    connection_tested,
    on_entry_zone,
    unreachable_reason,
)
from .errors import FailFastKeepingRetryAfter, translate
from .mapping import (
    MARKER_FIELD,
    OCCURRENCE_FIELDS,
    REMINDER_FIELDS,
    TIME_FIELDS,
    as_utc_keys,
    changed_fields,
    event_from_item,
    item_fields,
    item_values,
    normalised_rules,
    occurrence_from,
    occurrence_values,
    original_starts,
    plain_text,
    same_override,
    same_series,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

VERSIONS = {"2013": EXCHANGE_2013, "2013_SP1": EXCHANGE_2013_SP1, "2016": EXCHANGE_2016, "2019": EXCHANGE_2019}
AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC}
ACCESS_TYPES = {"impersonation": IMPERSONATION, "delegate": DELEGATE}
# SyncFolderItems returns at most 512 changes per call (MS-OXWSSYNC).
MAX_CHANGES_PER_CALL = 512
# Items in one CreateItem / UpdateItem / DeleteItem / FindItem: exchangelib's chunk size, well
# inside Exchange's EWSMaxBatchSize throttling default.
MAX_BATCH = 100


class _EveryErrorPerItem:
    """An exchangelib item service that hands back every error Exchange reports in an item's own
    ResponseMessage as that item's result (MS-OXWS: one ResponseMessage per item, each with its
    ResponseClass), instead of raising on the first one and losing the answers for the others.
    Errors of the whole request (SOAP faults, HTTP errors) are still raised."""

    ERRORS_TO_CATCH_IN_RESPONSE = ews_errors.ResponseMessageError


class _CreateItems(_EveryErrorPerItem, CreateItem):
    pass


class _UpdateItems(_EveryErrorPerItem, UpdateItem):
    pass


class _DeleteItems(_EveryErrorPerItem, DeleteItem):
    pass


class _GetItems(_EveryErrorPerItem, GetItem):
    pass


@dataclass
class _UpdatePlan:
    """What one UpdateItem change holds: the item with its new values (None: nothing to write), the
    fields to set, the ConflictResolution, the id and change key it goes under, and whether the
    series' exceptions are to be written after it."""

    item: CalendarItem | None
    fields: list[str]
    resolution: str
    item_id: str
    change_key: str
    exceptions: bool


class _NeedsCurrent(Exception):
    """A plan that needs the item as the server holds it, before the one GetItem for all of them."""


# --- settings and the factory -------------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeSettings:
    """What an admin enters for an Exchange connection."""

    username: str
    password: str
    server_url: str = ""  # the EWS endpoint, e.g. https://mail.example.com/EWS/Exchange.asmx; empty = autodiscover
    version: str = "2016"  # 2013, 2013_SP1, 2016, 2019 (SE answers as 2019)
    auth_type: str = "ntlm"  # ntlm or basic
    access_type: str = "impersonation"  # impersonation or delegate
    timeout: int = 60

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ConnectionProblem(f"Unknown Exchange version {self.version!r}: choose one of {', '.join(VERSIONS)}.")
        if self.auth_type.lower() not in AUTH_TYPES:
            raise ConnectionProblem(f"Unknown authentication {self.auth_type!r}: choose NTLM or Basic.")
        if self.access_type.lower() not in ACCESS_TYPES:
            raise ConnectionProblem(f"Unknown access {self.access_type!r}: choose impersonation or delegate.")


def exchange_provider_from_settings(settings: Mapping[str, Any], **options: Any) -> ExchangeProvider:
    """Build the provider from a connection's settings (a Connection model's fields, as a dict).

    Keys: server_url, username, password, version, auth_type, access_type, timeout (optional).
    """
    known = {name: settings[name] for name in ExchangeSettings.__dataclass_fields__ if settings.get(name) is not None}
    return ExchangeProvider(ExchangeSettings(**known), **options)


# --- the provider -------------------------------------------------------------------------------


def _forget_stale_protocol(config: Configuration) -> None:
    """Drop exchangelib's cached Protocol for this endpoint and account when it no longer fits.

    exchangelib keeps one Protocol per (endpoint, credentials) for the life of the process and
    leaves the auth type out of that key; it also keeps a failed first connection as an exception
    it raises again forever. A connection switched from NTLM to Basic (or a server that was down
    once) would otherwise go on with the old state until the worker restarts.
    """
    if not config.service_endpoint:
        return
    try:
        cached, _ = Protocol[config]
    except KeyError:
        return
    if isinstance(cached, Exception) or cached.auth_type != config.auth_type:
        with contextlib.suppress(KeyError):
            del Protocol[config]


# exchangelib's warning for a t:StartTimeZone Id it cannot map (fields.TimeZoneField.from_xml): the
# item comes with no zone, so the name is only in the warning.
_UNKNOWN_ZONE = re.compile(r"Cannot convert value (?P<id>.+?) on field '(?P<field>\w+)'")


def read_items(fetch: Callable[[], Iterable], unknown_zones: list[str] | None = None) -> list:
    """The items exchangelib parses from an answer (GetItem's t:CalendarItem elements, MS-OXWSCORE),
    read in full. exchangelib reads each field as it parses (a start in year 0 raises ValueError
    there): such an answer raises UnreadableEntry saying so, never a Python error.

    `unknown_zones` (optional) receives, in the order of the items, the StartTimeZone Ids
    exchangelib could not map (it leaves those items' `_start_timezone` None and warns); other
    warnings are issued again. The warnings are caught process-wide while the answer is parsed,
    which is right for a worker that syncs one calendar at a time."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            items = list(fetch())
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, ArithmeticError) as error:
            raise UnreadableEntry(f"Exchange sent an entry the helpdesk cannot read: {error}") from error
    for warning in caught:
        found = _UNKNOWN_ZONE.match(str(warning.message))
        if found and unknown_zones is not None:
            if found["field"] == "_start_timezone":
                with contextlib.suppress(ValueError, SyntaxError):
                    unknown_zones.append(str(ast.literal_eval(found["id"])))
        elif not found:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return items


class ExchangeProvider:
    """CalendarProvider (and BulkCalendarProvider) for Exchange Server over EWS."""

    max_batch = MAX_BATCH

    def __init__(
        self,
        settings: ExchangeSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 4,
        max_inline_wait: float = DEFAULT_MAX_INLINE_WAIT,
    ) -> None:
        self.settings = settings
        # The sync engine runs its own retry policy around each call and builds us with attempts=1.
        self._policy = RetryPolicy(attempts=attempts, max_inline_wait=max_inline_wait, sleep=sleep)
        self._accounts: dict[str, Account] = {}
        self._config: Configuration | None = None
        # A SyncFolderItems run that failed after some pages, by (mailbox, folder id, state it began
        # at): (changes, deletions, the state after the last page read), so its retry asks on from
        # there, not from the first page again (as the Google listing keeps its page token).
        self._unfinished: dict[tuple[str, str, str], tuple[dict[str, str | None], list[str], str | None]] = {}
        # The FolderId Exchange gives each linked folder (`_folder_id_of`), by (mailbox, id as stored).
        self._folder_ids: dict[tuple[str, str], str] = {}

    # connection

    @property
    def _credentials(self) -> Credentials:
        return Credentials(self.settings.username, self.settings.password)

    def _configuration(self) -> Configuration:
        if self._config is None:
            self._config = Configuration(
                service_endpoint=self.settings.server_url or None,
                credentials=self._credentials,
                auth_type=AUTH_TYPES[self.settings.auth_type.lower()],
                # A fixed version spares the guessing round-trip on the first request.
                version=Version(build=VERSIONS[self.settings.version]),
                # Fail fast (our RetryPolicy does the waiting), but keep the Retry-After of a 503/429.
                retry_policy=FailFastKeepingRetryAfter(),
            )
        return self._config

    def _account(self, mailbox: str) -> Account:
        mailbox = mailbox.strip().lower()
        if mailbox not in self._accounts:
            access_type = ACCESS_TYPES[self.settings.access_type.lower()]
            try:
                # No server URL: autodiscover, which takes the credentials from the configuration.
                account = self._new_account(mailbox, access_type, autodiscover=not self.settings.server_url)
            except ValueError as error:
                raise ConnectionProblem(
                    f"{mailbox!r} is not an e-mail address: fix the technician's mailbox."
                ) from error
            except ews_errors.AutoDiscoverFailed as error:
                raise ConnectionProblem(
                    f"Autodiscover found no Exchange server for {mailbox}: enter the EWS URL "
                    "(https://mail.example.com/EWS/Exchange.asmx) in the connection."
                ) from error
            self._accounts[mailbox] = account
        return self._accounts[mailbox]

    def _new_account(self, address: str, access_type: str, *, autodiscover: bool = False) -> Account:
        _forget_stale_protocol(self._configuration())
        account = Account(
            address,
            config=self._configuration(),
            autodiscover=autodiscover,
            access_type=access_type,
            default_timezone=EWSTimeZone("UTC"),
        )
        account.protocol.TIMEOUT = self.settings.timeout
        # exchangelib fills a back-off the server did not name with RETRY_WAIT seconds; 0 keeps a
        # guess from passing for the server's own wait.
        account.protocol.RETRY_WAIT = 0
        return account

    def _folder(self, calendar: RemoteCalendar) -> Calendar:
        """The calendar folder by its id, built without a round-trip."""
        account = self._account(calendar.mailbox)
        return Calendar(root=Root(account=account), id=calendar.calendar_id)

    def _call(self, mailbox: str, call: Callable[[], T]) -> T:
        """Run one unit of EWS work under the retry policy, with errors in our terms."""

        def attempt() -> T:
            try:
                return call()
            except (ews_errors.EWSError, requests.RequestException) as error:
                raise translate(error, self.settings, mailbox) from error

        return self._policy.call(attempt)

    # CalendarProvider

    def test_connection(self, mailbox: str | None = None) -> str:
        """Sign in with the connection's service account and, with `mailbox`, open that technician's
        calendar through it (impersonation or delegate access); ConnectionProblem saying what to fix."""
        where = self.settings.server_url or "autodiscover"
        how = "impersonation" if self.settings.access_type.lower() == "impersonation" else "delegate access"
        account = f"the connection's service account {self.settings.username} on Exchange at {where}"
        try:
            if mailbox is None:
                self._check_sign_in()
                return connection_tested(account)
            self.find_calendar(mailbox)
        except TransientError as error:
            plain = unreachable_reason(error, self.settings.server_url or "")
            raise ConnectionProblem(plain or f"Cannot reach Exchange at {where}: {error}") from error
        return connection_tested(account, f"through it, {mailbox}'s calendar opens by {how}")

    def _check_sign_in(self) -> None:
        """Credentials alone: the service account often has no mailbox, and that is fine."""
        username = self.settings.username
        address = username if "@" in username else f"{username.split(chr(92))[-1]}@invalid.local"
        account = self._new_account(address, DELEGATE)
        try:
            self._call(address, lambda: Calendar.get_distinguished(root=Root(account=account)))
        except ConnectionProblem as error:
            if isinstance(error.__cause__, ews_errors.ErrorNonExistentMailbox | ews_errors.ErrorAccessDenied):
                return
            raise

    def find_calendar(self, mailbox: str, name: str | None = None) -> RemoteCalendar:
        """The mailbox's default Calendar folder (GetFolder of the distinguished "calendar"), or with
        `name` the calendar folder of that display name anywhere in the mailbox: one FindFolder
        (Traversal Deep from the root, MS-OXWSFLDR) lists the calendar folders, and
        base.choose_calendar picks the one the name gives, ignoring case as Exchange does (Unicode
        case folding). Raises ConnectionProblem when no calendar folder has that name, or when
        several do (the message names the mailbox's calendars, the default one first)."""
        account = self._account(mailbox)
        folder = self._call(mailbox, lambda: Calendar.get_distinguished(root=Root(account=account)))
        if name and name.strip():

            def calendar_folders() -> list[Calendar]:
                # From the root as read (exchangelib keys its paging by the folder's fields).
                root = Root.get_distinguished(account=account)
                found = list(FolderCollection(account=account, folders=[root]).find_folders(depth=DEEP))
                for refused in (f for f in found if isinstance(f, Exception)):
                    raise refused  # an error answer is not "no such folder"
                return [f for f in found if isinstance(f, Calendar) and f.id != folder.id]

            every = [folder, *self._call(mailbox, calendar_folders)]
            listed = [NamedCalendar(name=f.name or "", calendar_id=f.id) for f in every]
            chosen = choose_calendar(name, listed, where=f"the mailbox {mailbox}")
            folder = next(f for f in every if f.id == chosen.calendar_id)
        return RemoteCalendar(mailbox=account.primary_smtp_address, calendar_id=folder.id)

    def list_changes(
        self,
        calendar: RemoteCalendar,
        token: str | None,
        window: Window,
        *,
        known_versions: Mapping[str, str] | None = None,
        known_series: Collection[str] | None = None,
    ) -> ChangePage:
        if token is None:
            return self._call(calendar.mailbox, lambda: self._full_listing(calendar, window))
        return self._call(calendar.mailbox, lambda: self._changes_since(calendar, token, known_versions or {}))

    def _sync(self, folder: Calendar, token: str | None) -> tuple[dict[str, str | None], list[str], str]:
        """(created or updated id -> change key, deleted ids, new state), one SyncFolderItems page
        (MaxChangesReturned) at a time, each asked with the SyncState the one before returned, until
        IncludesLastItemInRange (MS-OXWSSYNC 3.1.4.2). When a page fails, what the pages before it
        brought is kept with their state, and the retry of the same listing asks from there on."""
        key = (folder.account.primary_smtp_address, folder.id, token or "")
        changed, deleted, state = self._unfinished.pop(key, ({}, [], token))
        service = SyncFolderItems(account=folder.account)
        try:
            while True:
                page = list(
                    service.call(
                        folder=folder,
                        shape=ID_ONLY,
                        additional_fields=set(),
                        sync_state=state,
                        ignore=None,
                        max_changes_returned=MAX_CHANGES_PER_CALL,
                        sync_scope=None,
                    )
                )
                for change_type, item in page:
                    if change_type == "delete":
                        changed.pop(item.id, None)
                        deleted.append(item.id)
                    elif change_type in ("create", "update"):
                        changed[item.id] = item.changekey
                # exchangelib's own loop stops on the same state too: Exchange sometimes sends it back
                # with IncludesLastItemInRange false.
                done = service.includes_last_item_in_range or service.sync_state == state
                state = service.sync_state
                if done:
                    return changed, deleted, state
        except Exception:
            if state != token:
                self._unfinished[key] = (changed, deleted, state)
            raise

    def _changes_since(self, calendar: RemoteCalendar, token: str, known: Mapping[str, str]) -> ChangePage:
        folder = self._folder(calendar)
        changed, deleted, state = self._sync(folder, token)
        # An item whose ChangeKey is the one we stored from our own write is not read again.
        unchanged = [item_id for item_id, key in changed.items() if key and known.get(item_id) == key]
        wanted = [(item_id, None) for item_id in changed if item_id not in unchanged]
        events, gone, unreadable = self._fetch_events(folder, wanted)
        return ChangePage(
            changed=events, deleted=deleted + gone, next_token=state, unchanged=unchanged, unreadable=unreadable
        )

    def _full_listing(self, calendar: RemoteCalendar, window: Window) -> ChangePage:
        folder = self._folder(calendar)
        # The state first: anything that changes while we list comes again with the next pull.
        _ids, _deleted, state = self._sync(folder, None)
        view = folder.view(
            start=EWSDateTime.from_datetime(window.start.astimezone(UTC)),
            end=EWSDateTime.from_datetime(window.end.astimezone(UTC)),
        ).only("type", "uid")
        singles: list[tuple[str, None]] = []
        series: dict[str, RecurringMasterItemId] = {}
        for entry in view:
            if entry.type in ("Occurrence", "Exception"):
                series.setdefault(entry.uid or entry.id, RecurringMasterItemId(id=entry.id))
            else:
                singles.append((entry.id, None))
        events, _gone, unreadable = self._fetch_events(folder, singles + list(series.values()))
        return ChangePage(changed=events, next_token=state, full=True, unreadable=unreadable)

    def _fetch_events(
        self, folder: Calendar, ids: list, *, scoped: bool = False
    ) -> tuple[list[RemoteEvent], list[str], dict[str, str]]:
        """Full items for ids, as RemoteEvents; ids that vanished meanwhile come back as gone, items
        the mapping cannot read as unreadable (id -> reason). `scoped`: an item whose ParentFolderId
        is not `folder` (`_in_folder`) comes back as gone too, as it is not in this calendar."""
        if not ids:
            return [], [], {}
        account = folder.account
        fields = [*item_fields(), "parent_folder_id"] if scoped else list(item_fields())
        events: list[RemoteEvent] = []
        gone: list[str] = []
        unreadable: dict[str, str] = {}
        masters = []
        unknown_zones: list[str] = []
        # Each item's error is its own result (`_GetItems`): one refused item never loses the others.
        fetched = read_items(
            lambda: _GetItems(account=account, chunk_size=MAX_BATCH).call(
                items=ids, additional_fields=_item_fields(folder, fields), shape=ID_ONLY
            ),
            unknown_zones,
        )
        zoneless = [i for i in fetched if not isinstance(i, Exception) and i._start_timezone is None]
        # The i-th unmapped Id is the i-th item without a zone, unless some came with no zone at all.
        names = dict(zip(map(id, zoneless), unknown_zones, strict=False)) if len(zoneless) == len(unknown_zones) else {}
        for ref, item in zip(ids, fetched, strict=True):
            if isinstance(item, ews_errors.ErrorItemNotFound):
                if isinstance(ref, tuple):
                    gone.append(ref[0])
                continue
            if isinstance(item, ews_errors.ErrorAccessDenied):
                # This item alone refused (MS-OXWS 3.1.4: its own ResponseMessage): named in the sync
                # log as not imported; the folder was listed, so the calendar is readable.
                key = ref[0] if isinstance(ref, tuple) else getattr(ref, "id", str(ref))
                mailbox = account.primary_smtp_address
                unreadable[key] = str(translate(item, self.settings, mailbox, item=True))
                continue
            if isinstance(item, Exception):
                raise item
            if scoped and not self._in_folder(folder, item.parent_folder_id):
                if isinstance(ref, tuple):
                    gone.append(ref[0])
                continue
            try:
                event = event_from_item(item, unknown_zone=names.get(id(item), "" if unknown_zones else None))
            except UnreadableEntry as error:  # named in the sync log; the rest of the page stands
                unreadable[item.id] = str(error)
                continue
            if item.type == "RecurringMaster":
                masters.append(item)
            events.append(event)
        unreadable |= self._fill_overrides(folder, masters, events)
        return events, gone, unreadable

    def _fill_overrides(
        self, folder: Calendar, masters: list[CalendarItem], events: list[RemoteEvent]
    ) -> dict[str, str]:
        """Subject, place and text of moved occurrences: ModifiedOccurrences only carries their times.
        Read through `read_items`; an occurrence Exchange answers an error for (MS-OXWS: one response
        message per item) makes its series unreadable this time (master id -> reason, for the sync
        log), rather than imported with the master's text in place of its own. Returns those."""
        by_master = {event.remote_id: event for event in events}
        owners = [(master, occ) for master in masters for occ in master.modified_occurrences or ()]
        if not owners:
            return {}
        details = {}
        failed: dict[str, str] = {}
        # Sensitivity too: one occurrence may be private on its own (calendars.privacy).
        fields = (*OCCURRENCE_FIELDS, "sensitivity")
        wanted = [(occ.id, occ.changekey) for _, occ in owners]
        fetched = read_items(lambda: folder.account.fetch(ids=wanted, folder=folder, only_fields=fields))
        for (master, _), item in zip(owners, fetched, strict=True):
            if isinstance(item, ews_errors.ErrorItemNotFound):
                continue  # deleted meanwhile: the next listing says so
            if isinstance(item, Exception):
                failed[master.id] = f"Exchange could not read a moved occurrence of this series: {item}"
            else:
                details[item.id] = item
        if failed:
            events[:] = [event for event in events if event.remote_id not in failed]
            masters = [master for master in masters if master.id not in failed]
        for master in masters:
            event = by_master[master.id]
            event.overrides = []
            for occ in master.modified_occurrences or ():
                detail = details.get(occ.id)
                override = occurrence_from(occ, event)
                if detail is not None:
                    override.subject = detail.subject if detail.subject != master.subject else None
                    override.location = detail.location if detail.location != master.location else None
                    body = plain_text(detail.body)
                    override.body = body if body != event.body else None
                    override.private = not event.private and detail.sensitivity in ("Private", "Confidential")
                event.overrides.append(override)
        return failed

    def create(self, calendar: RemoteCalendar, event: RemoteEvent) -> RemoteRef:
        return self._call(calendar.mailbox, lambda: self._create(calendar, event))

    def _create(self, calendar: RemoteCalendar, event: RemoteEvent) -> RemoteRef:
        folder = self._folder(calendar)
        existing = self._find_by_marker(folder, event.marker) if event.marker else None
        if existing is not None:
            logger.info("Entry %s already in %s's calendar; not creating it again", event.marker, calendar.mailbox)
            item_id, change_key = existing
        else:
            item = CalendarItem(account=folder.account, folder=folder, **item_values(event))
            item.save(send_meeting_invitations=SEND_TO_NONE)
            item_id, change_key = item.id, item.changekey
        if event.is_recurring:
            change_key = self._apply_exceptions(folder, item_id, event)
        return RemoteRef(remote_id=item_id, version=change_key)

    def _find_by_marker(self, folder: Calendar, marker: str) -> tuple[str, str] | None:
        found = list(folder.filter(**{MARKER_FIELD: marker}).only("id", "changekey"))
        return (found[0].id, found[0].changekey) if found else None

    def update(
        self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, *, base: RemoteEvent | None = None
    ) -> RemoteRef:
        """Merge `event` into the entry with UpdateItem, writing only the helpdesk-owned fields that
        differ from `base` (the entry as last read), under ref.version as ChangeKey
        (ConflictResolution NeverOverwrite; AlwaysOverwrite when no version is given).

        Categories, attendees, extended properties other than ours and anything else the item
        holds are never written, and the reminder only on entries we created (our HelpdeskLinkId
        on the item). Without `base`, the entry is read first and serves as base, so the outcome
        is the same. Nothing to write: no UpdateItem, the same version back. Raises
        VersionConflict when ref.version is stale (ErrorIrresolvableConflict), RemoteNotFound
        when the entry is gone."""
        return self._call(calendar.mailbox, lambda: self._update(calendar, ref, event, base))

    def _update(
        self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, base: RemoteEvent | None
    ) -> RemoteRef:
        folder = self._folder(calendar)
        read: dict[str, CalendarItem] = {}

        def current() -> CalendarItem:
            if "item" not in read:  # read at most once, and only when the plan needs it
                read["item"] = self._get_master(folder, ref.remote_id)
            return read["item"]

        plan = self._plan_update(folder, ref, event, base, current)
        item_id, change_key = plan.item_id, plan.change_key
        if plan.item is not None:
            plan.item.save(
                update_fields=plan.fields, conflict_resolution=plan.resolution, send_meeting_invitations=SEND_TO_NONE
            )
            item_id, change_key = plan.item.id, plan.item.changekey
        if plan.exceptions:
            expected = ref.version if plan.item is None else None
            change_key = self._apply_exceptions(folder, item_id, event, base, expected=expected)
        return RemoteRef(remote_id=item_id, version=change_key)

    def _plan_update(
        self,
        folder: Calendar,
        ref: RemoteRef,
        event: RemoteEvent,
        base: RemoteEvent | None,
        current: Callable[[], CalendarItem],
    ) -> _UpdatePlan:
        """What UpdateItem must write to merge `event` into the entry (see update()). `current()`
        gives the item as the server holds it now; it is called only when the plan needs it."""
        item: CalendarItem | None = current() if base is None or not ref.version else None
        if base is None:
            base = event_from_item(item)
        event = on_entry_zone(event, base)  # a single entry stays on its own zone
        fields = changed_fields(event, base)
        # A series whose pattern, exceptions and times are as last read needs no recurrence work.
        series_as_read = same_series(event, base) and not set(TIME_FIELDS) & set(fields)
        if event.is_recurring and not series_as_read and item is None:
            item = current()
        if event.reminder_minutes != base.reminder_minutes:
            # Only our link id on the item itself tells our entries from the user's (a base built by
            # the caller may carry any marker), so it is read when, and only when, the reminder matters.
            item = item or current()
            marker = getattr(item, MARKER_FIELD, None)
            if marker and marker == event.marker:
                fields.extend(REMINDER_FIELDS)
        if not event.is_recurring:
            if base.is_recurring or (item is not None and item.recurrence is not None):
                fields.append("recurrence")  # A series that became a single entry loses its pattern.
        elif not series_as_read and not self._recurrence_still_fits(item, event):
            # Setting the pattern anew clears the old exceptions; it starts on the entry's start.
            fields.extend(name for name in (*TIME_FIELDS, "recurrence") if name not in fields)
        # Without a version tag the caller means to overwrite whatever the server holds now.
        change_key = ref.version or item.changekey
        write = None
        if fields:
            write = CalendarItem(
                account=folder.account, folder=folder, id=ref.remote_id, changekey=change_key, **item_values(event)
            )
        return _UpdatePlan(
            item=write,
            fields=fields,
            resolution=NEVER_OVERWRITE if ref.version else ALWAYS_OVERWRITE,
            item_id=ref.remote_id,
            change_key=change_key,
            exceptions=event.is_recurring and not series_as_read,
        )

    def _get_master(self, folder: Calendar, item_id: str) -> CalendarItem:
        (item,) = folder.account.fetch(ids=[(item_id, None)], folder=folder, only_fields=item_fields())
        if isinstance(item, Exception):
            raise item
        return item

    def _recurrence_still_fits(self, current: CalendarItem, event: RemoteEvent) -> bool:
        """True when the remote pattern is ours and holds no exception we no longer want."""
        if current.recurrence is None:
            return False
        remote = event_from_item(current)
        if remote.rrules != normalised_rules(event):
            return False
        wanted_exdates = set(as_utc_keys(event.exdates, event))
        wanted_overrides = set(as_utc_keys([o.original_start for o in event.overrides], event))
        return set(as_utc_keys(remote.exdates, remote)) <= wanted_exdates and set(
            as_utc_keys([o.original_start for o in remote.overrides], remote)
        ) <= (wanted_overrides | wanted_exdates)

    def _apply_exceptions(
        self,
        folder: Calendar,
        master_id: str,
        event: RemoteEvent,
        base: RemoteEvent | None = None,
        *,
        expected: str | None = None,
    ) -> str:
        """Cancel and move single occurrences to match event.exdates / event.overrides; the master's new
        change key. `base` (the series as last read) tells the text its occurrences hold of their own:
        an occurrence gets only its own text written (see `occurrence_values`).

        `expected`: the master's ChangeKey as last read, when no UpdateItem of the master checked it
        (only occurrences to write): the occurrences are written with the master's current key
        (ALWAYS_OVERWRITE), so a series moved in Outlook meanwhile would be written over unseen;
        a master whose key differs raises VersionConflict before anything is written, as Graph's
        check of the series' changeKey and a 412 on CalDAV and Google (review 7 F7: an occurrence
        renamed in the helpdesk was put back at the series' old time)."""
        master = self._get_master(folder, master_id)
        if expected and master.changekey != expected:
            raise VersionConflict(
                f"The entry changed in {folder.account.primary_smtp_address}'s calendar since we last read it."
            )
        remote = event_from_item(master)
        # ModifiedOccurrences carries times only: the text an exception holds is the one last read.
        held = (
            dict(zip(as_utc_keys([o.original_start for o in base.overrides], base), base.overrides, strict=True))
            if base is not None and base.is_recurring
            else {}
        )
        cancelled = set(as_utc_keys(remote.exdates, remote))
        moved = {
            key: occurrence
            for key, occurrence in zip(
                as_utc_keys([o.original_start for o in remote.overrides], remote), remote.overrides, strict=True
            )
        }
        starts = original_starts(event)
        account = folder.account
        changed = False
        for key in as_utc_keys(event.exdates, event):
            if key in cancelled or key not in starts:
                continue
            occurrence = CalendarItem(
                account=account, folder=folder, _id=OccurrenceItemId(id=master_id, instance_index=starts[key])
            )
            occurrence.delete(send_meeting_cancellations=SEND_TO_NONE)
            changed = True
        for key, override in zip(
            as_utc_keys([o.original_start for o in event.overrides], event), event.overrides, strict=True
        ):
            if key not in starts or same_override(moved.get(key), override, event, held.get(key)):
                continue
            values = occurrence_values(override, event, held.get(key) if key in moved else None)
            occurrence = CalendarItem(
                account=account,
                folder=folder,
                _id=OccurrenceItemId(id=master_id, changekey=master.changekey, instance_index=starts[key]),
                **values,
            )
            occurrence.save(
                update_fields=list(values),
                conflict_resolution=ALWAYS_OVERWRITE,
                send_meeting_invitations=SEND_TO_NONE,
            )
            changed = True
        if not changed:
            return master.changekey
        (fresh,) = account.fetch(ids=[(master_id, None)], folder=folder, only_fields=["changekey"])
        return fresh.changekey

    def get(self, calendar: RemoteCalendar, ref: RemoteRef, window: Window | None = None) -> RemoteEvent | None:
        """The item of `calendar`'s folder as Exchange holds it now (GetItem, MS-OXWS), or None when
        it is gone or lives in another folder of the mailbox. An ItemId names an item in the whole
        mailbox (GetItem takes no folder), so the item's ParentFolderId (MS-OXWSCORE 2.2.4.24
        t:ItemType: "the folder that contains the item") must be the linked folder
        (`_in_folder`): after a relink to another calendar folder of the same mailbox, the old
        folder's item is not taken as present in the new one. Raises ProviderError (and its kinds)
        as the connector's calls do, UnreadableEntry for an item the mapping cannot read,
        TransientError when Exchange will not say which folder the ParentFolderId names."""
        return self._read(calendar, ref, scoped=True)

    def _read(self, calendar: RemoteCalendar, ref: RemoteRef, *, scoped: bool) -> RemoteEvent | None:
        """`get`; `scoped` False: the item is known to be the linked folder's (FindItem in it), so
        its ParentFolderId is not asked for."""

        def read() -> RemoteEvent | None:
            folder = self._folder(calendar)
            events, gone, unreadable = self._fetch_events(folder, [(ref.remote_id, None)], scoped=scoped)
            if unreadable:
                raise UnreadableEntry(next(iter(unreadable.values())))
            return None if gone or not events else events[0]

        try:
            return self._call(calendar.mailbox, read)
        except RemoteNotFound:
            return None

    def _in_folder(self, folder: Calendar, parent: Any) -> bool:
        """Is `parent` (an item's ParentFolderId) the folder `folder` names? False only when it is
        positively another folder: folder ids are not immutable and one folder's id may come in
        more than one form (outlook-immutable-id: containers keep no immutable id), so an id that is
        not the stored one is compared in the form GetFolder gives each folder (`_folder_id_of`):
        the linked one's (a folder addressed by the distinguished id "calendar" too) and the
        parent's. An answer without ParentFolderId tells nothing: the item is taken as the
        folder's, as before this check. Raises TransientError when Exchange will not say which
        folder the parent id names (never read as "gone": a caller counts it unanswered or fails
        the item for a later retry), and the connector's errors as GetFolder raises them."""
        found = getattr(parent, "id", None)
        if not found or found == folder.id:
            return True
        linked = self._folder_id_of(folder)
        if found == linked:
            return True
        try:
            other = self._folder_id_of(Calendar(root=folder.root, id=found))
        except ews_errors.EWSError as error:
            mailbox = folder.account.primary_smtp_address
            translated = translate(error, self.settings, mailbox)
            if isinstance(translated, TransientError):
                raise translated from error
            # Not found, malformed, refused: the parent is not known to be another folder.
            raise TransientError(f"Could not tell which folder of {mailbox} holds the item: {error}") from error
        return other == linked

    def _folder_id_of(self, folder: Calendar) -> str:
        """The FolderId Exchange gives `folder` (GetFolder by its id, or of the distinguished
        "calendar"), once per provider, mailbox and id form."""
        key = (folder.account.primary_smtp_address.lower(), folder.id)
        if key not in self._folder_ids:
            root = Root(account=folder.account)
            if folder.id == "calendar":
                found = Calendar.get_distinguished(root=root)
            else:
                (found,) = list(FolderCollection(account=folder.account, folders=[folder]).get_folders())
                if isinstance(found, Exception):
                    raise found
            self._folder_ids[key] = found.id or folder.id
        return self._folder_ids[key]

    def find_by_marker(self, calendar: RemoteCalendar, marker: str, window: Window | None = None) -> RemoteEvent | None:
        """The item carrying our marker in its extended property (FindItem with a restriction on
        it, MS-OXWS), read with GetItem; None when the calendar holds none. FindItem searches the
        linked folder alone (its ParentFolderIds), so an item of another folder is never found."""
        found = self._call(calendar.mailbox, lambda: self._find_by_marker(self._folder(calendar), marker))
        # Found in the linked folder: asking again which folder holds it could only lose it (a
        # second create) if Exchange would not say.
        return self._read(calendar, RemoteRef(found[0], found[1]), scoped=False) if found else None

    def delete(self, calendar: RemoteCalendar, ref: RemoteRef) -> None:
        """DeleteItem (SendMeetingCancellations=SendToNone), conditional on `ref.version` as
        `apply_bulk` makes it (VersionConflict: changed in Outlook since read); gone already is done."""
        (result,) = self.apply_bulk(calendar, [BulkOp("delete", ref=ref)])
        if isinstance(result.error, RemoteNotFound):
            logger.info("Entry %s was already gone from %s's calendar", ref.remote_id, calendar.mailbox)
        elif result.error is not None:
            raise result.error

    # BulkCalendarProvider: many items in one CreateItem / UpdateItem / DeleteItem (MS-OXWS)

    def apply_bulk(self, calendar: RemoteCalendar, ops: list[BulkOp]) -> list[BulkResult]:
        """The ops in as few EWS requests as the protocol allows: one FindItem for the markers of all
        creates (a create retried after a lost answer finds the first entry, MS-OXWSSRCH), one
        CreateItem with every new item, one GetItem for the updates that must read the entry first,
        one UpdateItem per ConflictResolution (NeverOverwrite under a change key, AlwaysOverwrite
        without), one DeleteItem. Each item's ResponseMessage is its own result: a refused item fails
        alone (VersionConflict, RemoteNotFound, ProviderError with Exchange's code); a delete of an
        entry already gone is a success. Updates merge as update() does. A series' cancelled and
        moved occurrences are written after its master, one series at a time (they need the
        master's instance indexes). An error of a whole request (sign-in, unreachable, busy) is
        raised; every write here is safe to repeat (creates find their marker, deletes of gone
        entries succeed, updates carry their change key). At most `max_batch` ops."""
        if len(ops) > MAX_BATCH:
            raise ProviderError(f"At most {MAX_BATCH} writes go in one Exchange request.")
        results: list[BulkResult | None] = [None] * len(ops)
        by_kind: dict[str, list[int]] = {"create": [], "update": [], "delete": []}
        for index, op in enumerate(ops):
            if op.kind not in by_kind:
                results[index] = BulkResult(error=ProviderError(f"Unknown bulk operation {op.kind!r}."))
                continue
            by_kind[op.kind].append(index)
        mailbox = calendar.mailbox
        if by_kind["delete"]:
            self._call(mailbox, lambda: self._bulk_delete(calendar, ops, by_kind["delete"], results))
        if by_kind["update"]:
            self._call(mailbox, lambda: self._bulk_update(calendar, ops, by_kind["update"], results))
        if by_kind["create"]:
            self._call(mailbox, lambda: self._bulk_create(calendar, ops, by_kind["create"], results))
        return [
            result or BulkResult(error=ProviderError("Exchange gave no answer for this item.")) for result in results
        ]

    def rights(self, calendar: RemoteCalendar) -> CalendarRights:
        """The calendar folder's EffectiveRights (GetFolder with folder:EffectiveRights, MS-OXWSCDATA
        2.2.4.32): readable with Read, writable with CreateContents, Modify and Delete. A folder
        Exchange refuses (ErrorAccessDenied) or no longer has is neither."""
        user = self.settings.username
        fix = (
            f"give {user} Editor rights on that calendar (Add-MailboxFolderPermission -AccessRights Editor), or "
            "switch the connection to impersonation and grant the ApplicationImpersonation role"
        )
        wanted = {FieldPath(field=Calendar.get_field_by_fieldname("effective_rights"))}

        def ask():
            folder = self._folder(calendar)
            (found,) = list(FolderCollection(account=folder.account, folders=[folder]).get_folders(wanted))
            if isinstance(found, Exception):
                raise found
            return found.effective_rights

        try:
            rights = self._call(calendar.mailbox, ask)
        except (ConnectionProblem, RemoteNotFound) as error:
            return CalendarRights(read=False, write=False, source=f"the folder itself is refused: {error}", fix=fix)
        if rights is None:  # not reported: nothing known, nothing judged
            return CalendarRights(read=True, write=True, source="no EffectiveRights", fix=fix)
        held = [name for name in ("read", "create_contents", "modify", "delete") if getattr(rights, name)]
        return CalendarRights(
            read=bool(rights.read),
            write=bool(rights.create_contents and rights.modify and rights.delete),
            source="EffectiveRights " + (", ".join(held) or "none"),
            fix=fix,
        )

    def _item_error(self, error: Exception, mailbox: str) -> ProviderError:
        """One item's error of a write on many, in our terms (`translate` with item and write)."""
        return (
            error
            if isinstance(error, ProviderError)
            else translate(error, self.settings, mailbox, item=True, write=True)
        )

    def _series_done(
        self,
        folder: Calendar,
        item_id: str,
        change_key: str,
        event: RemoteEvent,
        base: RemoteEvent | None = None,
        *,
        expected: str | None = None,
    ) -> BulkResult:
        """The series' exceptions written after its master (one series at a time), as that item's
        result; `expected` as `_apply_exceptions` takes it."""
        try:
            change_key = self._apply_exceptions(folder, item_id, event, base, expected=expected)
        except (ews_errors.EWSError, requests.RequestException, ProviderError) as error:
            return BulkResult(error=self._item_error(error, folder.account.primary_smtp_address))
        return BulkResult(ref=RemoteRef(remote_id=item_id, version=change_key))

    def _bulk_create(
        self, calendar: RemoteCalendar, ops: list[BulkOp], indexes: list[int], results: list[BulkResult | None]
    ) -> None:
        folder = self._folder(calendar)
        account = folder.account
        markers = sorted({ops[i].event.marker for i in indexes if ops[i].event.marker})
        found: dict[str, tuple[str, str]] = {}
        if markers:
            # One FindItem (an Or of IsEqualTo on our extended property) for the whole batch. FindItem
            # answers ids only here (exchangelib counts extended properties as complex), so the
            # markers of what it found, if anything, come with one GetItem for all of them.
            ids = list(folder.filter(**{f"{MARKER_FIELD}__in": markers}).only("id", "changekey"))
            unread: dict[str, Exception] = {}
            if ids:
                for entry_id, entry in zip(
                    ids, account.fetch(ids=ids, folder=folder, only_fields=[MARKER_FIELD]), strict=True
                ):
                    if isinstance(entry, Exception):
                        unread[entry_id.id] = entry
                    else:
                        found.setdefault(getattr(entry, MARKER_FIELD), (entry.id, entry.changekey))
            if unread:
                # An entry FindItem found could not be read, so which marker it holds is unknown: each
                # marker not found is asked for alone (ids only), and only the ops whose marker is on
                # an unreadable entry fail, for a later retry, never created blind (SPEC S3.9); the
                # batch's other items go on (review 8). Rare: one FindItem per such marker.
                for index in indexes:
                    marker = ops[index].event.marker
                    if not marker or marker in found:
                        continue
                    held = [e.id for e in folder.filter(**{MARKER_FIELD: marker}).only("id", "changekey")]
                    error = next((unread[item_id] for item_id in held if item_id in unread), None)
                    if error is not None:
                        results[index] = BulkResult(
                            error=TransientError(
                                f"Exchange could not read back an entry in {calendar.mailbox}'s calendar "
                                f"({error}); the entry is not created again until it can be checked."
                            )
                        )
                indexes = [index for index in indexes if results[index] is None]
        new: list[int] = []
        items: list[CalendarItem] = []
        for index in indexes:
            event = ops[index].event
            if event.marker in found:
                logger.info("Entry %s already in %s's calendar; not creating it again", event.marker, calendar.mailbox)
                item_id, change_key = found[event.marker]
                results[index] = (
                    self._series_done(folder, item_id, change_key, event)
                    if event.is_recurring
                    else BulkResult(ref=RemoteRef(remote_id=item_id, version=change_key))
                )
                continue
            try:
                item = CalendarItem(account=account, folder=folder, **item_values(event))
                item.clean(version=account.version)  # a bad item is refused alone, before the request
            except ProviderError as error:  # our own refusal already says what Exchange cannot hold
                results[index] = BulkResult(error=error)
                continue
            except (ValueError, TypeError) as error:
                results[index] = BulkResult(error=ProviderError(f"Exchange cannot hold this entry: {error}"))
                continue
            new.append(index)
            items.append(item)
        if not items:
            return
        answers = _CreateItems(account=account, chunk_size=len(items)).call(
            items=items, folder=folder, message_disposition=SAVE_ONLY, send_meeting_invitations=SEND_TO_NONE
        )
        for index, answer in zip(new, list(answers), strict=True):
            event = ops[index].event
            if isinstance(answer, Exception):
                results[index] = BulkResult(error=self._item_error(answer, calendar.mailbox))
            elif event.is_recurring and (event.exdates or event.overrides):
                results[index] = self._series_done(folder, answer.id, answer.changekey, event)
            else:
                results[index] = BulkResult(ref=RemoteRef(remote_id=answer.id, version=answer.changekey))

    def _bulk_update(
        self, calendar: RemoteCalendar, ops: list[BulkOp], indexes: list[int], results: list[BulkResult | None]
    ) -> None:
        folder = self._folder(calendar)
        account = folder.account
        mailbox = calendar.mailbox
        # Which updates must read the entry first (no base, no change key, the reminder or the series
        # changed): all of them in one GetItem.
        wanted: list[str] = []
        for index in indexes:
            op = ops[index]

            def missing(op: BulkOp = op) -> CalendarItem:
                raise _NeedsCurrent(op.ref.remote_id)

            try:
                self._plan_update(folder, op.ref, op.event, op.base, missing)
            except _NeedsCurrent:
                wanted.append(op.ref.remote_id)
            except ProviderError:
                pass  # refused below, with the others' plans
        current: dict[str, CalendarItem | Exception] = {}
        if wanted:
            unique = list(dict.fromkeys(wanted))
            read = _GetItems(account=account, chunk_size=len(unique)).call(
                items=[(item_id, None) for item_id in unique],
                additional_fields=_item_fields(folder, item_fields()),
                shape=ID_ONLY,
            )
            current = dict(zip(unique, read, strict=True))
        plans: dict[int, _UpdatePlan] = {}
        for index in indexes:
            op = ops[index]

            def known(op: BulkOp = op) -> CalendarItem:
                entry = current[op.ref.remote_id]
                if isinstance(entry, Exception):
                    raise entry
                return entry

            try:
                plan = self._plan_update(folder, op.ref, op.event, op.base, known)
            except (ews_errors.EWSError, ProviderError) as error:
                results[index] = BulkResult(error=self._item_error(error, mailbox))
                continue
            if plan.item is None:
                results[index] = self._update_done(folder, op, plan, plan.item_id, plan.change_key)
            else:
                plans[index] = plan
        for resolution in (NEVER_OVERWRITE, ALWAYS_OVERWRITE):
            group = [index for index, plan in plans.items() if plan.resolution == resolution]
            if not group:
                continue
            answers = _UpdateItems(account=account, chunk_size=len(group)).call(
                items=[(plans[index].item, plans[index].fields) for index in group],
                conflict_resolution=resolution,
                message_disposition=SAVE_ONLY,
                send_meeting_invitations_or_cancellations=SEND_TO_NONE,
                suppress_read_receipts=True,
            )
            for index, answer in zip(group, list(answers), strict=True):
                if isinstance(answer, Exception):
                    results[index] = BulkResult(error=self._item_error(answer, mailbox))
                else:
                    item_id, change_key = answer
                    results[index] = self._update_done(folder, ops[index], plans[index], item_id, change_key)

    def _update_done(
        self, folder: Calendar, op: BulkOp, plan: _UpdatePlan, item_id: str, change_key: str
    ) -> BulkResult:
        if plan.exceptions:
            expected = op.ref.version if plan.item is None else None
            return self._series_done(folder, item_id, change_key, op.event, op.base, expected=expected)
        return BulkResult(ref=RemoteRef(remote_id=item_id, version=change_key))

    def _unchanged_since_read(
        self, account: Account, ops: list[BulkOp], indexes: list[int], results: list[BulkResult | None], mailbox: str
    ) -> list[int]:
        """The deletes of `indexes` whose entry still has the change key we read (`ref.version`), or
        that carry none. EWS DeleteItem does not check an ItemId's ChangeKey (unlike UpdateItem's
        ConflictResolution), so a deletion racing a change made in Outlook would win unseen; the
        current change keys are read first, all in one GetItem (IdOnly: ItemId with its ChangeKey,
        MS-OXWS), and a changed one is VersionConflict, as a 412 on CalDAV, Google and Graph (the
        engine reads the entry again: planner rule 7). An entry gone already counts as deleted; one
        that cannot be read fails alone. A change in the instant between the two calls is not seen."""
        versioned = [index for index in indexes if ops[index].ref.version]
        if not versioned:
            return indexes
        unique = list(dict.fromkeys(ops[index].ref.remote_id for index in versioned))
        read = _GetItems(account=account, chunk_size=len(unique)).call(
            items=[(item_id, None) for item_id in unique], additional_fields=set(), shape=ID_ONLY
        )
        current = dict(zip(unique, read, strict=True))
        kept = []
        for index in indexes:
            ref = ops[index].ref
            entry = current.get(ref.remote_id) if ref.version else None
            if isinstance(entry, ews_errors.ErrorItemNotFound):
                results[index] = BulkResult()  # an entry already gone counts as deleted
            elif isinstance(entry, Exception):
                results[index] = BulkResult(error=self._item_error(entry, mailbox))
            elif entry is not None and entry.changekey != ref.version:
                results[index] = BulkResult(
                    error=VersionConflict(f"The entry changed in {mailbox}'s calendar since we last read it.")
                )
            else:
                kept.append(index)
        return kept

    def _bulk_delete(
        self, calendar: RemoteCalendar, ops: list[BulkOp], indexes: list[int], results: list[BulkResult | None]
    ) -> None:
        account = self._account(calendar.mailbox)
        indexes = self._unchanged_since_read(account, ops, indexes, results, calendar.mailbox)
        if not indexes:
            return
        answers = _DeleteItems(account=account, chunk_size=len(indexes)).call(
            items=[(ops[index].ref.remote_id, ops[index].ref.version) for index in indexes],
            delete_type=HARD_DELETE,
            send_meeting_cancellations=SEND_TO_NONE,
            affected_task_occurrences=ALL_OCCURRENCES,
            suppress_read_receipts=True,
        )
        for index, answer in zip(indexes, list(answers), strict=True):
            if isinstance(answer, ews_errors.ErrorItemNotFound) or not isinstance(answer, Exception):
                results[index] = BulkResult()  # an entry already gone counts as deleted
            else:
                results[index] = BulkResult(error=self._item_error(answer, calendar.mailbox))


def _item_fields(folder: Calendar, names: list[str]) -> set:
    """GetItem's AdditionalProperties for these CalendarItem field names, as account.fetch builds them."""
    return {path for path in folder.normalize_fields(fields=names) if not path.field.is_attribute}
