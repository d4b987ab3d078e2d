"""Exchange Server (2013/2016/2019/SE, on-premises or hybrid) over EWS, with exchangelib.

One service account reaches every technician's mailbox, either with the ApplicationImpersonation
role (the usual set-up) or with delegate rights on each calendar. Pull uses SyncFolderItems and
its sync state; a refused state means a full listing of the window with CalendarView. Push uses
CreateItem / UpdateItem / DeleteItem and never sends invitations or cancellations. Our link id
lives in an extended property, so a retried create finds the first one; change keys are the
version tags.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from dateutil.rrule import rrulestr
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDate,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.folders import Calendar, Root
from exchangelib.items import ALWAYS_OVERWRITE, NEVER_OVERWRITE, SEND_TO_NONE
from exchangelib.properties import OccurrenceItemId, RecurringMasterItemId
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)
from exchangelib.version import EXCHANGE_2013, EXCHANGE_2013_SP1, EXCHANGE_2016, EXCHANGE_2019
from exchangelib.winzone import CLDR_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP

from .base import (
    ChangePage,
    ConnectionProblem,
    ProviderError,
    RemoteCalendar,
    RemoteEvent,
    RemoteNotFound,
    RemoteOccurrence,
    RemoteRef,
    SyncTokenExpired,
    TransientError,
    VersionConflict,
    Window,
    with_retries,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

VERSIONS = {"2013": EXCHANGE_2013, "2013_SP1": EXCHANGE_2013_SP1, "2016": EXCHANGE_2016, "2019": EXCHANGE_2019}
AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC}
ACCESS_TYPES = {"impersonation": IMPERSONATION, "delegate": DELEGATE}
# SyncFolderItems returns at most 512 changes per call (MS-OXWSSYNC).
MAX_CHANGES_PER_CALL = 512
EWS_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # exchangelib numbers them 1..7 from Monday
WEEK_NUMBERS = {1: 1, 2: 2, 3: 3, 4: 4, -1: 5}  # RRULE position -> exchangelib week_number (5 = Last)


class HelpdeskLinkId(ExtendedProperty):
    """Our link id on every entry we create: how a retried create finds the first one, and how a
    pull recognises our own entries (a named property in our own property set)."""

    property_set_id = "4a3b7c2e-5d1f-4e8a-9b6c-0f2d8e7a1c55"
    property_name = "HelpdeskLinkId"
    property_type = "String"


MARKER_FIELD = "helpdesk_link_id"
if MARKER_FIELD not in {f.name for f in CalendarItem.FIELDS}:
    CalendarItem.register(MARKER_FIELD, HelpdeskLinkId)

ITEM_FIELDS = (
    "subject",
    "body",
    "location",
    "start",
    "end",
    "is_all_day",
    "sensitivity",
    "legacy_free_busy_status",
    "reminder_is_set",
    "reminder_minutes_before_start",
    "_start_timezone",
    "_end_timezone",
    "recurrence",
    "modified_occurrences",
    "deleted_occurrences",
    "type",
    MARKER_FIELD,
)
OCCURRENCE_FIELDS = ("subject", "body", "location", "start", "end", "original_start", "is_all_day", "_start_timezone")


# --- time zones: Exchange names Windows zones, the helpdesk IANA ones ------------------------------


def windows_zone_for(iana: str) -> str:
    """The Windows zone id Exchange uses for an IANA zone (CLDR's table, as exchangelib ships it)."""
    entry = CLDR_TO_MS_TIMEZONE_MAP.get(iana)
    return entry[0] if entry else "UTC"


def iana_zone_for(windows: str) -> str:
    """The IANA zone for a Windows zone id; UTC for ids the table does not know."""
    return MS_TIMEZONE_TO_IANA_MAP.get(windows, "UTC")


def _ews_zone(iana: str) -> EWSTimeZone:
    try:
        return EWSTimeZone(iana)
    except (ews_errors.UnknownTimeZone, ZoneInfoNotFoundError, ValueError):
        # A zone with no Windows counterpart: Exchange cannot hold it, so the wall clock goes in UTC.
        return EWSTimeZone("UTC")


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


class ExchangeProvider:
    """CalendarProvider for Exchange Server over EWS."""

    def __init__(
        self, settings: ExchangeSettings, *, sleep: Callable[[float], None] = time.sleep, attempts: int = 4
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        # The sync engine runs its own retry policy around each call and builds us with attempts=1.
        self._attempts = attempts
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
            account.protocol.TIMEOUT = self.settings.timeout
            self._accounts[mailbox] = account
        return self._accounts[mailbox]

    def _new_account(self, address: str, access_type: str, *, autodiscover: bool = False) -> Account:
        return Account(
            address,
            config=self._configuration(),
            autodiscover=autodiscover,
            access_type=access_type,
            default_timezone=EWSTimeZone("UTC"),
        )

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
                raise self._translate(error, mailbox) from error

        return with_retries(attempt, attempts=self._attempts, sleep=self._sleep)

    def _translate(self, error: Exception, mailbox: str) -> ProviderError:
        user = self.settings.username
        if isinstance(error, ews_errors.UnauthorizedError):
            return ConnectionProblem(
                f"Exchange refused the sign-in of {user}: check the account name and password, and that "
                f"{self.settings.auth_type.upper()} authentication is enabled on the EWS virtual directory."
            )
        if isinstance(error, ews_errors.ErrorImpersonateUserDenied):
            return ConnectionProblem(
                f"The service account {user} cannot impersonate {mailbox}: grant it the ApplicationImpersonation "
                f"role (New-ManagementRoleAssignment -Role ApplicationImpersonation -User {user})."
            )
        if isinstance(error, ews_errors.ErrorNonExistentMailbox):
            return ConnectionProblem(
                f"Exchange has no mailbox for {mailbox}: check the technician's e-mail address (the primary SMTP "
                "address of the mailbox)."
            )
        if isinstance(error, ews_errors.ErrorAccessDenied):
            return ConnectionProblem(
                f"{user} may not open the calendar of {mailbox}: give it Editor rights on that calendar "
                "(Add-MailboxFolderPermission), or switch the connection to impersonation and grant the "
                "ApplicationImpersonation role."
            )
        if isinstance(
            error, ews_errors.ErrorInvalidServerVersion | ews_errors.ErrorInvalidSchemaVersionForMailboxVersion
        ):
            return ConnectionProblem(
                f"The server does not accept Exchange version {self.settings.version}: "
                "choose the version the server runs."
            )
        if isinstance(error, ews_errors.ErrorServerBusy):
            # exchangelib fills in its own wait when the server named none; only BackOffMilliseconds counts.
            own_wait = str(error).startswith(("Reraised from", "Caused by"))
            return TransientError(f"Exchange is busy: {error}", retry_after=None if own_wait else error.back_off)
        if isinstance(
            error,
            ews_errors.ErrorTimeoutExpired
            | ews_errors.ErrorInternalServerTransientError
            | ews_errors.ErrorInternalServerError
            | ews_errors.ErrorTooManyObjectsOpened
            | ews_errors.RateLimitError
            | ews_errors.CASError
            | ews_errors.MalformedResponseError
            | requests.RequestException,
        ):
            return TransientError(f"Exchange did not answer properly: {error}")
        if isinstance(error, ews_errors.ErrorInvalidSyncStateData):
            return SyncTokenExpired(f"Exchange refused the sync state of {mailbox}: a full resync is needed.")
        if isinstance(error, ews_errors.ErrorIrresolvableConflict | ews_errors.ErrorInvalidChangeKey):
            return VersionConflict(f"The entry changed in {mailbox}'s calendar since we last read it.")
        if isinstance(error, ews_errors.ErrorItemNotFound):
            return RemoteNotFound(f"The entry is no longer in {mailbox}'s calendar.")
        if isinstance(error, ews_errors.ErrorFolderNotFound):
            return ConnectionProblem(f"{mailbox} has no calendar folder Exchange will show us.")
        if isinstance(error, ews_errors.ResponseMessageError):
            return ProviderError(f"Exchange refused the request ({type(error).__name__}): {error}")
        if isinstance(error, ews_errors.TransportError | ews_errors.RedirectError):
            return ConnectionProblem(
                f"Cannot reach Exchange at {self.settings.server_url or 'the autodiscovered server'}: {error}"
            )
        return ProviderError(f"Exchange answered {type(error).__name__}: {error}")

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

    def list_changes(self, calendar: RemoteCalendar, token: str | None, window: Window) -> ChangePage:
        if token is None:
            return self._call(calendar.mailbox, lambda: self._full_listing(calendar, window))
        return self._call(calendar.mailbox, lambda: self._changes_since(calendar, token))

    def _sync(self, folder: Calendar, token: str | None) -> tuple[list[str], list[str], str]:
        """(created or updated ids, deleted ids, new state), following SyncFolderItems until done."""
        changed: dict[str, None] = {}
        deleted: list[str] = []
        for change_type, item in folder.sync_items(
            sync_state=token, only_fields=[], max_changes_returned=MAX_CHANGES_PER_CALL
        ):
            if change_type == "delete":
                changed.pop(item.id, None)
                deleted.append(item.id)
            elif change_type in ("create", "update"):
                changed[item.id] = None
        return list(changed), deleted, folder.item_sync_state

    def _changes_since(self, calendar: RemoteCalendar, token: str) -> ChangePage:
        folder = self._folder(calendar)
        changed_ids, deleted, state = self._sync(folder, token)
        events, gone = self._fetch_events(folder, [(item_id, None) for item_id in changed_ids])
        return ChangePage(changed=events, deleted=deleted + gone, next_token=state)

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
        for ref, item in zip(ids, account.fetch(ids=ids, folder=folder, only_fields=ITEM_FIELDS), strict=True):
            if isinstance(item, ews_errors.ErrorItemNotFound):
                if isinstance(ref, tuple):
                    gone.append(ref[0])
                continue
            if isinstance(item, Exception):
                raise item
            if item.type == "RecurringMaster":
                masters.append(item)
            events.append(_event_from_item(item))
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
            zone = event.time_zone
            event.overrides = []
            for occ in master.modified_occurrences or ():
                detail = details.get(occ.id)
                override = RemoteOccurrence(
                    original_start=_from_ews(occ.original_start, zone),
                    start=_from_ews(occ.start, zone),
                    end=_from_ews(occ.end, zone),
                )
                if event.all_day:
                    override.original_start = override.original_start.date()
                    override.start, override.end = override.start.date(), override.end.date()
                if detail is not None:
                    override.subject = detail.subject if detail.subject != master.subject else None
                    override.location = detail.location if detail.location != master.location else None
                    body = _text(detail.body)
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
            item = CalendarItem(account=folder.account, folder=folder, **_item_values(event))
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
        return self._call(calendar.mailbox, lambda: self._update(calendar, ref, event))

    def _update(self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent) -> RemoteRef:
        folder = self._folder(calendar)
        values = _item_values(event)
        fields = [name for name in values if name != "recurrence" and (name != MARKER_FIELD or event.marker)]
        current = self._get_master(folder, ref.remote_id) if event.is_recurring or not ref.version else None
        if not event.is_recurring:
            fields.append("recurrence")  # A series that became a single entry loses its pattern.
        elif not self._recurrence_still_fits(current, event):
            fields.append("recurrence")  # Setting the pattern anew clears the old exceptions.
        # Without a version tag the caller means to overwrite whatever the server holds now.
        change_key = ref.version or current.changekey
        resolution = NEVER_OVERWRITE if ref.version else ALWAYS_OVERWRITE
        item = CalendarItem(account=folder.account, folder=folder, id=ref.remote_id, changekey=change_key, **values)
        item.save(update_fields=fields, conflict_resolution=resolution, send_meeting_invitations=SEND_TO_NONE)
        change_key = item.changekey
        if event.is_recurring:
            change_key = self._apply_exceptions(folder, item.id, event)
        return RemoteRef(remote_id=item.id, version=change_key)

    def _get_master(self, folder: Calendar, item_id: str) -> CalendarItem:
        (item,) = folder.account.fetch(ids=[(item_id, None)], folder=folder, only_fields=ITEM_FIELDS)
        if isinstance(item, Exception):
            raise item
        return item

    def _recurrence_still_fits(self, current: CalendarItem, event: RemoteEvent) -> bool:
        """True when the remote pattern is ours and holds no exception we no longer want."""
        if current.recurrence is None:
            return False
        remote = _event_from_item(current)
        if remote.rrules != _normalised_rules(event):
            return False
        wanted_exdates = set(_as_utc_keys(event.exdates, event))
        wanted_overrides = set(_as_utc_keys([o.original_start for o in event.overrides], event))
        return set(_as_utc_keys(remote.exdates, remote)) <= wanted_exdates and set(
            _as_utc_keys([o.original_start for o in remote.overrides], remote)
        ) <= (wanted_overrides | wanted_exdates)

    def _apply_exceptions(self, folder: Calendar, master_id: str, event: RemoteEvent) -> str:
        """Cancel and move single occurrences to match event.exdates / event.overrides; the master's new change key."""
        master = self._get_master(folder, master_id)
        remote = _event_from_item(master)
        cancelled = set(_as_utc_keys(remote.exdates, remote))
        moved = {
            key: occurrence
            for key, occurrence in zip(
                _as_utc_keys([o.original_start for o in remote.overrides], remote), remote.overrides, strict=True
            )
        }
        starts = _original_starts(event)
        account = folder.account
        changed = False
        for key in _as_utc_keys(event.exdates, event):
            if key in cancelled or key not in starts:
                continue
            occurrence = CalendarItem(
                account=account, folder=folder, _id=OccurrenceItemId(id=master_id, instance_index=starts[key])
            )
            occurrence.delete(send_meeting_cancellations=SEND_TO_NONE)
            changed = True
        for key, override in zip(
            _as_utc_keys([o.original_start for o in event.overrides], event), event.overrides, strict=True
        ):
            if key not in starts or _same_override(moved.get(key), override, event):
                continue
            values = _occurrence_values(override, event)
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

    def delete(self, calendar: RemoteCalendar, ref: RemoteRef) -> None:
        def delete() -> None:
            folder = self._folder(calendar)
            item = CalendarItem(account=folder.account, folder=folder, id=ref.remote_id, changekey=ref.version)
            item.delete(send_meeting_cancellations=SEND_TO_NONE)

        try:
            self._call(calendar.mailbox, delete)
        except RemoteNotFound:
            logger.info("Entry %s was already gone from %s's calendar", ref.remote_id, calendar.mailbox)


# --- mapping: RemoteEvent <-> CalendarItem ---------------------------------------------------------


def _from_ews(value: datetime, zone: str) -> datetime:
    """An aware stdlib datetime on the zone's wall clock."""
    utc = value.astimezone(EWSTimeZone("UTC"))
    plain = datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, tzinfo=UTC)
    return plain.astimezone(ZoneInfo(zone))


def _ews_date(value: date) -> EWSDate:
    return EWSDate(value.year, value.month, value.day)


def _to_ews(value: datetime, tz: EWSTimeZone) -> EWSDateTime:
    return EWSDateTime.from_datetime(value).astimezone(tz)


_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def _text(body: Any) -> str:
    """Body as plain text: Outlook writes HTML, the helpdesk keeps text."""
    if not body:
        return ""
    if type(body).__name__ == "HTMLBody":
        body = re.sub(r"<br\s*/?>|</p>|</div>", "\n", str(body), flags=re.IGNORECASE)
        return html.unescape(_TAGS.sub("", body)).strip()
    return str(body)


def _event_from_item(item: CalendarItem) -> RemoteEvent:
    start_tz = item._start_timezone
    zone = start_tz.key if start_tz is not None else "UTC"
    if item.is_all_day:
        # exchangelib gives all-day entries as dates with an inclusive end; ours is exclusive.
        start, end = _as_date(item.start), _as_date(item.end)
        start = date(start.year, start.month, start.day)
        end = date(end.year, end.month, end.day) + timedelta(days=1)
    else:
        start, end = _from_ews(item.start, zone), _from_ews(item.end, zone)
    event = RemoteEvent(
        start=start,
        end=end,
        subject=item.subject or "",
        body=_text(item.body),
        location=item.location or "",
        all_day=bool(item.is_all_day),
        private=item.sensitivity in ("Private", "Confidential"),
        busy=item.legacy_free_busy_status != "Free",
        reminder_minutes=item.reminder_minutes_before_start if item.reminder_is_set else None,
        time_zone=zone,
        marker=getattr(item, MARKER_FIELD, None) or None,
        remote_id=item.id,
        version=item.changekey,
    )
    if item.recurrence is not None:
        event.rrules = [_rrule_from_recurrence(item.recurrence, event)]
        for deleted in item.deleted_occurrences or ():
            original = _from_ews(deleted.start, zone)
            event.exdates.append(original.date() if event.all_day else original)
        for occ in item.modified_occurrences or ():
            override = RemoteOccurrence(
                original_start=_from_ews(occ.original_start, zone),
                start=_from_ews(occ.start, zone),
                end=_from_ews(occ.end, zone),
            )
            if event.all_day:
                override.original_start = override.original_start.date()
                override.start, override.end = override.start.date(), override.end.date()
            event.overrides.append(override)
    return event.trimmed()


def _item_values(event: RemoteEvent) -> dict[str, Any]:
    tz = _ews_zone(event.time_zone)
    if event.all_day:
        start = _as_date(event.start)
        end = max(_as_date(event.end) - timedelta(days=1), start)  # exchangelib adds the day back
        start_value: Any = EWSDate(start.year, start.month, start.day)
        end_value: Any = EWSDate(end.year, end.month, end.day)
    else:
        start_value, end_value = _to_ews(event.start, tz), _to_ews(event.end, tz)
    values = {
        "subject": event.subject or None,
        "body": event.body or None,
        "location": event.location or None,
        "start": start_value,
        "end": end_value,
        "is_all_day": event.all_day,
        "sensitivity": "Private" if event.private else "Normal",
        "legacy_free_busy_status": "Busy" if event.busy else "Free",
        "reminder_is_set": event.reminder_minutes is not None,
        "reminder_minutes_before_start": event.reminder_minutes or 0,
        "_start_timezone": tz,
        "_end_timezone": tz,
        "recurrence": _recurrence_for(event, tz) if event.is_recurring else None,
        MARKER_FIELD: event.marker,
    }
    return values


def _occurrence_values(override: RemoteOccurrence, event: RemoteEvent) -> dict[str, Any]:
    tz = _ews_zone(event.time_zone)
    if event.all_day:
        start, end = _as_date(override.start), max(_as_date(override.end) - timedelta(days=1), _as_date(override.start))
        values: dict[str, Any] = {"start": _ews_date(start), "end": _ews_date(end)}
    else:
        values = {"start": _to_ews(override.start, tz), "end": _to_ews(override.end, tz)}
    for name in ("subject", "location", "body"):
        value = getattr(override, name)
        if value is not None:
            values[name] = value
    return values


def _same_override(remote: RemoteOccurrence | None, wanted: RemoteOccurrence, event: RemoteEvent) -> bool:
    if remote is None:
        return False
    if _utc_key(remote.start, event) != _utc_key(wanted.start, event):
        return False
    return _utc_key(remote.end, event) == _utc_key(wanted.end, event) and all(
        getattr(wanted, name) is None or getattr(wanted, name) == getattr(remote, name)
        for name in ("subject", "location", "body")
    )


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _utc_key(value: datetime | date, event: RemoteEvent) -> datetime:
    """Comparable form of a start: dates are midnight on the event's wall clock."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(_zone_name(event)))
    return value.astimezone(UTC)


def _as_utc_keys(values: Iterable[datetime | date], event: RemoteEvent) -> list[datetime]:
    return [_utc_key(value, event) for value in values]


def _zone_name(event: RemoteEvent) -> str:
    return _ews_zone(event.time_zone).key


# --- recurrence: RRULE <-> EWS patterns ------------------------------------------------------------


def _parse_rrule(rule: str) -> dict[str, str]:
    parts = {}
    for part in rule.removeprefix("RRULE:").split(";"):
        key, _, value = part.partition("=")
        if key:
            parts[key.upper()] = value.upper()
    return parts


def _weekday_number(code: str) -> int:
    return EWS_WEEKDAYS.index(code) + 1


def _positional_day(parts: dict[str, str], start_day: date) -> tuple[int, int]:
    """(exchangelib weekday, week_number) for BYDAY=2TU, BYDAY=TU;BYSETPOS=2 or the start's own weekday."""
    byday = parts.get("BYDAY", "")
    match = re.fullmatch(r"([+-]?\d)?([A-Z]{2})", byday) if byday else None
    if byday and not match:
        raise ProviderError(f"Exchange cannot repeat on several weekdays in a month ({byday}).")
    position = int(match.group(1)) if match and match.group(1) else int(parts.get("BYSETPOS", "0") or 0)
    weekday = _weekday_number(match.group(2)) if match else start_day.isoweekday()
    if not position:
        position = (start_day.day - 1) // 7 + 1
    if position not in WEEK_NUMBERS:
        raise ProviderError(f"Exchange cannot repeat on week {position} of a month.")
    return weekday, WEEK_NUMBERS[position]


def _recurrence_for(event: RemoteEvent, tz: EWSTimeZone) -> Recurrence:
    if len(event.rrules) != 1:
        raise ProviderError("Exchange holds one repeat rule per series; this series has several.")
    parts = _parse_rrule(event.rrules[0])
    unsupported = set(parts) - {
        "FREQ",
        "INTERVAL",
        "BYDAY",
        "BYMONTHDAY",
        "BYMONTH",
        "BYSETPOS",
        "COUNT",
        "UNTIL",
        "WKST",
    }
    if unsupported:
        raise ProviderError(
            f"Exchange cannot hold the repeat rule {event.rrules[0]!r} ({', '.join(sorted(unsupported))})."
        )
    start = event.start if event.all_day else event.start.astimezone(tz)
    start_day = _as_date(start)
    interval = int(parts.get("INTERVAL", "1"))
    freq = parts.get("FREQ")
    if freq == "DAILY":
        pattern: Any = DailyPattern(interval=interval)
    elif freq == "WEEKLY":
        days = parts.get("BYDAY", EWS_WEEKDAYS[start_day.weekday()]).split(",")
        pattern = WeeklyPattern(
            interval=interval,
            weekdays=[_weekday_number(day[-2:]) for day in days],
            first_day_of_week=_weekday_number(parts.get("WKST", "MO")),
        )
    elif freq == "MONTHLY" and "BYDAY" in parts:
        weekday, week_number = _positional_day(parts, start_day)
        pattern = RelativeMonthlyPattern(interval=interval, weekday=weekday, week_number=week_number)
    elif freq == "MONTHLY":
        pattern = AbsoluteMonthlyPattern(interval=interval, day_of_month=int(parts.get("BYMONTHDAY", start_day.day)))
    elif freq == "YEARLY" and interval == 1:
        month = int(parts.get("BYMONTH", start_day.month))
        if "BYDAY" in parts:
            weekday, week_number = _positional_day(parts, start_day)
            pattern = RelativeYearlyPattern(weekday=weekday, week_number=week_number, month=month)
        else:
            pattern = AbsoluteYearlyPattern(day_of_month=int(parts.get("BYMONTHDAY", start_day.day)), month=month)
    else:
        raise ProviderError(f"Exchange cannot hold the repeat rule {event.rrules[0]!r}.")
    first = _ews_date(start_day)
    if "COUNT" in parts:
        return Recurrence(pattern=pattern, boundary=NumberedPattern(start=first, number=int(parts["COUNT"])))
    if "UNTIL" in parts:
        until = _until(parts["UNTIL"], tz)
        return Recurrence(pattern=pattern, boundary=EndDatePattern(start=first, end=_ews_date(until)))
    return Recurrence(pattern=pattern, boundary=NoEndPattern(start=first))


def _until(value: str, tz: EWSTimeZone) -> date:
    if "T" in value:
        moment = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
        if value.endswith("Z"):
            return moment.replace(tzinfo=UTC).astimezone(tz).date()
        return moment.date()
    return datetime.strptime(value, "%Y%m%d").date()


def _rrule_from_recurrence(recurrence: Recurrence, event: RemoteEvent) -> str:
    pattern, boundary = recurrence.pattern, recurrence.boundary
    positions = {number: position for position, number in WEEK_NUMBERS.items()}

    def day_code(number: int) -> str:
        if number > 7:
            raise ProviderError("Exchange's day/weekday/weekend-day patterns have no RRULE here.")
        return EWS_WEEKDAYS[number - 1]

    if isinstance(pattern, DailyPattern):
        parts = ["FREQ=DAILY", f"INTERVAL={pattern.interval}"]
    elif isinstance(pattern, WeeklyPattern):
        days = ",".join(day_code(day) for day in sorted(pattern.weekdays))
        parts = ["FREQ=WEEKLY", f"INTERVAL={pattern.interval}", f"BYDAY={days}"]
        if pattern.first_day_of_week and pattern.first_day_of_week != 1:
            parts.append(f"WKST={day_code(pattern.first_day_of_week)}")
    elif isinstance(pattern, RelativeMonthlyPattern):
        parts = ["FREQ=MONTHLY", f"INTERVAL={pattern.interval}"]
        parts.append(f"BYDAY={positions[pattern.week_number]}{day_code(pattern.weekday)}")
    elif isinstance(pattern, AbsoluteMonthlyPattern):
        parts = ["FREQ=MONTHLY", f"INTERVAL={pattern.interval}", f"BYMONTHDAY={pattern.day_of_month}"]
    elif isinstance(pattern, RelativeYearlyPattern):
        parts = ["FREQ=YEARLY", f"BYMONTH={pattern.month}"]
        parts.append(f"BYDAY={positions[pattern.week_number]}{day_code(pattern.weekday)}")
    elif isinstance(pattern, AbsoluteYearlyPattern):
        parts = ["FREQ=YEARLY", f"BYMONTH={pattern.month}", f"BYMONTHDAY={pattern.day_of_month}"]
    else:
        raise ProviderError(f"Exchange's {type(pattern).__name__} has no RRULE here.")
    if isinstance(boundary, NumberedPattern):
        parts.append(f"COUNT={boundary.number}")
    elif isinstance(boundary, EndDatePattern):
        end = boundary.end
        if isinstance(end, datetime):
            # exchangelib reads the xs:date as that day's midnight on the series' clock, as an instant.
            end = end.astimezone(ZoneInfo(_zone_name(event))).date()
        if event.all_day:
            parts.append(f"UNTIL={end:%Y%m%d}")
        else:
            # The last moment of the end date on the series' wall clock, in UTC as RFC 5545 wants.
            last = datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=ZoneInfo(_zone_name(event)))
            parts.append(f"UNTIL={last.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    return ";".join(parts)


def _normalised_rules(event: RemoteEvent) -> list[str]:
    """Our rule as Exchange will give it back, to tell whether the remote pattern changed."""
    return [_rrule_from_recurrence(_recurrence_for(event, _ews_zone(event.time_zone)), event)]


def _original_starts(event: RemoteEvent) -> dict[datetime, int]:
    """UTC original start -> 1-based InstanceIndex, as Exchange counts the occurrences of the series."""
    zone = ZoneInfo(_zone_name(event))
    if event.all_day:
        first = datetime.combine(_as_date(event.start), datetime.min.time())
    else:
        first = event.start.astimezone(zone).replace(tzinfo=None)
    rule = _normalised_rules(event)[0]
    if "UNTIL=" in rule and not event.all_day:
        # dateutil wants UNTIL on the same footing as a floating DTSTART.
        until = _parse_rrule(rule)["UNTIL"]
        local_until = datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(zone)
        rule = rule.replace(f"UNTIL={until}", f"UNTIL={local_until:%Y%m%dT%H%M%S}")
    wanted = set(_as_utc_keys(event.exdates, event)) | set(
        _as_utc_keys([o.original_start for o in event.overrides], event)
    )
    latest = max(wanted, default=None)
    result: dict[datetime, int] = {}
    if latest is None:
        return result
    for index, naive in enumerate(rrulestr(rule, dtstart=first), start=1):
        start = naive.replace(tzinfo=zone).astimezone(UTC)
        if start > latest:
            break
        result[start] = index
    return result
