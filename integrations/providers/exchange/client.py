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

import logging
import time
from collections.abc import Callable, Iterable, Mapping
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
from exchangelib.folders import Calendar, Root
from exchangelib.items import ALWAYS_OVERWRITE, NEVER_OVERWRITE, SEND_TO_NONE
from exchangelib.properties import OccurrenceItemId, RecurringMasterItemId
from exchangelib.version import EXCHANGE_2013, EXCHANGE_2013_SP1, EXCHANGE_2016, EXCHANGE_2019

from ..base import (
    DEFAULT_MAX_INLINE_WAIT,
    ChangePage,
    ConnectionProblem,
    RemoteCalendar,
    RemoteEvent,
    RemoteNotFound,
    RemoteRef,
    RetryPolicy,
    TransientError,
    UnreadableEntry,
    Window,
)
from .errors import FailFastKeepingRetryAfter, translate
from .mapping import (
    ITEM_FIELDS,
    MARKER_FIELD,
    OCCURRENCE_FIELDS,
    REMINDER_FIELDS,
    TIME_FIELDS,
    as_utc_keys,
    changed_fields,
    event_from_item,
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


def read_items(fetch: Callable[[], Iterable]) -> list:
    """The items exchangelib parses from an answer (GetItem's t:CalendarItem elements, MS-OXWSCORE),
    read in full. exchangelib reads each field as it parses (a start in year 0 raises ValueError
    there): such an answer raises UnreadableEntry saying so, never a Python error."""
    try:
        return list(fetch())
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, ArithmeticError) as error:
        raise UnreadableEntry(f"Exchange sent an entry the helpdesk cannot read: {error}") from error


class ExchangeProvider:
    """CalendarProvider for Exchange Server over EWS."""

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
        where = self.settings.server_url or "autodiscover"
        how = "impersonation" if self.settings.access_type.lower() == "impersonation" else "delegate access"
        try:
            if mailbox is None:
                self._check_sign_in()
                return f"Signed in to {where} as {self.settings.username}."
            self.find_calendar(mailbox)
        except TransientError as error:
            raise ConnectionProblem(f"Cannot reach Exchange at {where}: {error}") from error
        return f"Signed in to {where} as {self.settings.username}; {mailbox}'s calendar is reachable by {how}."

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
        account = self._account(mailbox)
        folder = self._call(mailbox, lambda: Calendar.get_distinguished(root=Root(account=account)))
        if name and name != folder.name:
            raise ConnectionProblem(
                f"Only the default calendar of {mailbox} ({folder.name!r}) can be synced, not {name!r}."
            )
        return RemoteCalendar(mailbox=account.primary_smtp_address, calendar_id=folder.id)

    def list_changes(
        self,
        calendar: RemoteCalendar,
        token: str | None,
        window: Window,
        *,
        known_versions: Mapping[str, str] | None = None,
    ) -> ChangePage:
        if token is None:
            return self._call(calendar.mailbox, lambda: self._full_listing(calendar, window))
        return self._call(calendar.mailbox, lambda: self._changes_since(calendar, token, known_versions or {}))

    def _sync(self, folder: Calendar, token: str | None) -> tuple[dict[str, str | None], list[str], str]:
        """(created or updated id -> change key, deleted ids, new state), following SyncFolderItems."""
        changed: dict[str, str | None] = {}
        deleted: list[str] = []
        for change_type, item in folder.sync_items(
            sync_state=token, only_fields=[], max_changes_returned=MAX_CHANGES_PER_CALL
        ):
            if change_type == "delete":
                changed.pop(item.id, None)
                deleted.append(item.id)
            elif change_type in ("create", "update"):
                changed[item.id] = item.changekey
        return changed, deleted, folder.item_sync_state

    def _changes_since(self, calendar: RemoteCalendar, token: str, known: Mapping[str, str]) -> ChangePage:
        folder = self._folder(calendar)
        changed, deleted, state = self._sync(folder, token)
        # An item whose ChangeKey is the one we stored from our own write is not read again.
        unchanged = [item_id for item_id, key in changed.items() if key and known.get(item_id) == key]
        wanted = [(item_id, None) for item_id in changed if item_id not in unchanged]
        events, gone = self._fetch_events(folder, wanted)
        return ChangePage(changed=events, deleted=deleted + gone, next_token=state, unchanged=unchanged)

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
        events, _gone = self._fetch_events(folder, singles + list(series.values()))
        return ChangePage(changed=events, next_token=state, full=True)

    def _fetch_events(self, folder: Calendar, ids: list) -> tuple[list[RemoteEvent], list[str]]:
        """Full items for ids, as RemoteEvents; ids that vanished meanwhile come back as gone."""
        if not ids:
            return [], []
        account = folder.account
        events: list[RemoteEvent] = []
        gone: list[str] = []
        masters = []
        fetched = read_items(lambda: account.fetch(ids=ids, folder=folder, only_fields=ITEM_FIELDS))
        for ref, item in zip(ids, fetched, strict=True):
            if isinstance(item, ews_errors.ErrorItemNotFound):
                if isinstance(ref, tuple):
                    gone.append(ref[0])
                continue
            if isinstance(item, Exception):
                raise item
            if item.type == "RecurringMaster":
                masters.append(item)
            events.append(event_from_item(item))
        self._fill_overrides(folder, masters, events)
        return events, gone

    def _fill_overrides(self, folder: Calendar, masters: list[CalendarItem], events: list[RemoteEvent]) -> None:
        """Subject, place and text of moved occurrences: ModifiedOccurrences only carries their times."""
        by_master = {event.remote_id: event for event in events}
        wanted = [(occ.id, occ.changekey) for master in masters for occ in master.modified_occurrences or ()]
        if not wanted:
            return
        details = {}
        for item in folder.account.fetch(ids=wanted, folder=folder, only_fields=OCCURRENCE_FIELDS):
            if not isinstance(item, Exception):
                details[item.id] = item
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
                event.overrides.append(override)

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
        current = self._get_master(folder, ref.remote_id) if base is None or not ref.version else None
        if base is None:
            base = event_from_item(current)
        fields = changed_fields(event, base)
        # A series whose pattern, exceptions and times are as last read needs no recurrence work.
        series_as_read = same_series(event, base) and not set(TIME_FIELDS) & set(fields)
        if event.is_recurring and not series_as_read and current is None:
            current = self._get_master(folder, ref.remote_id)
        if event.reminder_minutes != base.reminder_minutes:
            # Only our link id on the item itself tells our entries from the user's (a base built by
            # the caller may carry any marker), so it is read when, and only when, the reminder matters.
            current = current or self._get_master(folder, ref.remote_id)
            marker = getattr(current, MARKER_FIELD, None)
            if marker and marker == event.marker:
                fields.extend(REMINDER_FIELDS)
        if not event.is_recurring:
            if base.is_recurring or (current is not None and current.recurrence is not None):
                fields.append("recurrence")  # A series that became a single entry loses its pattern.
        elif not series_as_read and not self._recurrence_still_fits(current, event):
            # Setting the pattern anew clears the old exceptions; it starts on the entry's start.
            fields.extend(name for name in (*TIME_FIELDS, "recurrence") if name not in fields)
        # Without a version tag the caller means to overwrite whatever the server holds now.
        change_key = ref.version or current.changekey
        item_id = ref.remote_id
        if fields:
            resolution = NEVER_OVERWRITE if ref.version else ALWAYS_OVERWRITE
            item = CalendarItem(
                account=folder.account, folder=folder, id=ref.remote_id, changekey=change_key, **item_values(event)
            )
            item.save(update_fields=fields, conflict_resolution=resolution, send_meeting_invitations=SEND_TO_NONE)
            item_id, change_key = item.id, item.changekey
        if event.is_recurring and not series_as_read:
            change_key = self._apply_exceptions(folder, item_id, event)
        return RemoteRef(remote_id=item_id, version=change_key)

    def _get_master(self, folder: Calendar, item_id: str) -> CalendarItem:
        (item,) = folder.account.fetch(ids=[(item_id, None)], folder=folder, only_fields=ITEM_FIELDS)
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

    def _apply_exceptions(self, folder: Calendar, master_id: str, event: RemoteEvent) -> str:
        """Cancel and move single occurrences to match event.exdates / event.overrides; the master's new change key."""
        master = self._get_master(folder, master_id)
        remote = event_from_item(master)
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
            if key not in starts or same_override(moved.get(key), override, event):
                continue
            values = occurrence_values(override, event)
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

    def get(self, calendar: RemoteCalendar, ref: RemoteRef) -> RemoteEvent | None:
        """The item as Exchange holds it now (GetItem, MS-OXWS), or None when it is gone."""

        def read() -> RemoteEvent | None:
            folder = self._folder(calendar)
            events, gone = self._fetch_events(folder, [(ref.remote_id, None)])
            return None if gone or not events else events[0]

        try:
            return self._call(calendar.mailbox, read)
        except RemoteNotFound:
            return None

    def delete(self, calendar: RemoteCalendar, ref: RemoteRef) -> None:
        def delete() -> None:
            folder = self._folder(calendar)
            item = CalendarItem(account=folder.account, folder=folder, id=ref.remote_id, changekey=ref.version)
            item.delete(send_meeting_cancellations=SEND_TO_NONE)

        try:
            self._call(calendar.mailbox, delete)
        except RemoteNotFound:
            logger.info("Entry %s was already gone from %s's calendar", ref.remote_id, calendar.mailbox)
