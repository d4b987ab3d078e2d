"""Google Calendar (Workspace and consumer accounts) over the Calendar API v3, with
google-api-python-client and google-auth.

Sign-in: a Workspace service account with domain-wide delegation acting as each technician
(the JWT's `sub` is the technician's e-mail), or a technician's own OAuth sign-in (a refresh
token of the connection's OAuth client). The API endpoint, the batch URI and the token URI are
settings of the connection (the client's own batch request ignores the endpoint).

Pull: events.list with singleEvents=false (masters with their exceptions, not expanded), over
the window on a full listing and with the sync token afterwards, page by page until
nextSyncToken; any 410 on the listing is SyncTokenExpired. Working-location and birthday entries
are never imported, focus time and out of office come in as busy blocks (mapping.py); filtered
here rather than with `eventTypes`, so sync tokens taken before keep their parameters.
Push: insert under an id derived from our marker, so a retried insert meets 409 and goes on with
the entry already there; patch with If-Match writing only the owned fields that changed, then a
series' exception events brought to what the helpdesk wants; never a write to an entry of a
special type; delete (404/410 = gone); sendUpdates=none on every write; batches of up to 50
calls. Calls run under base.RetryPolicy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import google_auth_httplib2
import httplib2
from google.auth import exceptions as auth_errors
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from integrations.sync.normalise import exception_items, moment_key

from ..base import (
    DEFAULT_MAX_INLINE_WAIT,
    BulkOp,
    BulkResult,
    CalendarRights,
    ChangePage,
    ConnectionProblem,
    EntryRefused,
    NamedCalendar,
    ProviderError,
    RemoteCalendar,
    RemoteEvent,
    RemoteNotFound,
    RemoteRef,
    RetryPolicy,
    UnreadableEntry,
    VersionConflict,
    Window,
    choose_calendar,
    connection_tested,
    unreachable_reason,
)
from .errors import CALENDAR_SCOPE, reason_of, status_of, translate
from .mapping import (
    event_from_resource,
    event_id_for,
    insert_body,
    instance_id,
    is_not_busy_type,
    is_read_only,
    marker_of,
    occurrence_patch,
    occurs_on,
    parse_event_time,
    patch_body,
    restore_patch,
    same_override,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

GOOGLE_API_ENDPOINT = "https://www.googleapis.com/calendar/v3/"
GOOGLE_BATCH_URI = "https://www.googleapis.com/batch/calendar/v3"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SERVICE_ACCOUNT_KEYS = ("type", "client_email", "private_key", "client_id")
PAGE_SIZE = 2500  # events.list maxResults ceiling
MAX_BATCH = 50  # calls per batch request (Calendar API batch guide)
NO_NOTIFICATIONS = "none"
# Every id we insert under starts so: the base32hex of the engine's marker prefix "helpd(esk-)".
OUR_ID_PREFIX = event_id_for("helpd")


@dataclass(frozen=True)
class GoogleSettings:
    """What an admin enters for a Google connection: a service account's JSON key (Workspace), or
    an OAuth client with each technician's refresh token (mailbox -> token)."""

    service_account_info: Mapping[str, Any] | None = None
    client_id: str = ""
    client_secret: str = ""
    refresh_tokens: Mapping[str, str] = field(default_factory=dict)
    api_endpoint: str = GOOGLE_API_ENDPOINT
    batch_uri: str = GOOGLE_BATCH_URI
    token_uri: str = GOOGLE_TOKEN_URI
    timeout: int = 60
    # Exception events read of one series (its moved and cancelled occurrences, events.list by
    # iCalUID): the engine's SYNC_MAX_OCCURRENCES_PER_SERIES, which cuts them to as many anyway.
    max_exceptions: int = 1000

    def __post_init__(self) -> None:
        if self.service_account_info is not None:
            check_service_account_info(self.service_account_info)
        elif not (self.client_id and self.client_secret):
            raise ConnectionProblem(
                "A Google connection needs either the service account's JSON key or an OAuth client id and secret."
            )

    @property
    def account(self) -> str:
        if self.service_account_info is not None:
            return str(self.service_account_info["client_email"])
        return f"OAuth client {self.client_id}"


def check_service_account_info(info: Any) -> None:
    """ConnectionProblem unless `info` is a service account key as the Cloud console gives it."""
    if not isinstance(info, Mapping):
        raise ConnectionProblem("The service account key must be the JSON object the Cloud console downloads.")
    missing = [key for key in SERVICE_ACCOUNT_KEYS if not info.get(key)]
    if missing:
        raise ConnectionProblem(
            f"The service account key lacks {', '.join(missing)}: download a new JSON key (IAM & Admin > Service "
            "accounts > Keys > Add key > JSON) and paste the whole file."
        )
    if info.get("type") != "service_account":
        raise ConnectionProblem('This JSON is not a service account key (its type is not "service_account").')


# Access tokens last about an hour; a provider is built for every sync, so its credentials are kept
# per process to be reused until google-auth sees them near expiry (SPEC S4: an unchanged poll costs
# one request, not a token grant as well).
KEPT_CREDENTIALS = 1024


class _Kept:
    """Objects kept per process under a plain key (an account and a mailbox, never secret material),
    each with a digest of the secrets it was made from: a new key or refresh token for the same
    account and mailbox replaces its entry instead of adding one (review 16: keyed by the whole key
    JSON, every token refresh made another entry holding secrets). At most `size` entries, the least
    recently used dropped first. Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, ...], tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], secrets: str, make: Callable[[], T]) -> T:
        """The object kept under `key` if it was made from the same `secrets`, else `make()` kept there."""
        digest = hashlib.sha256(secrets.encode()).hexdigest()
        with self._lock:
            held = self._entries.get(key)
            if held is not None and held[0] == digest:
                self._entries.move_to_end(key)
                return held[1]
        made = make()  # outside the lock: loading a key takes tens of milliseconds
        with self._lock:
            self._entries[key] = (digest, made)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return made

    def __len__(self) -> int:
        return len(self._entries)


# A service account's key, read once per process: loading the RSA private key costs tens of
# milliseconds, and a provider is built for every sync. Each mailbox gets its own copy
# (`with_subject`), which shares the signer.
_KEYS = _Kept(16)
_KEPT = _Kept(KEPT_CREDENTIALS)


def _service_account(info_json: str, *, kept: bool = True) -> service_account.Credentials:
    """The service account's credentials from its JSON key (with our token_uri), kept per process
    by its client_email (`kept`), else made anew. Raises ValueError or KeyError for a key that
    cannot be read (not kept)."""
    info = json.loads(info_json)
    if not kept:
        return service_account.Credentials.from_service_account_info(info, scopes=[CALENDAR_SCOPE])
    email = str(info.get("client_email", ""))
    return _KEYS.get(("service account", email), info_json, lambda: _service_account(info_json, kept=False))


def _delegated_credentials(info_json: str, mailbox: str, *, kept: bool = True) -> service_account.Credentials:
    """The service account acting as `mailbox` (lower case), one object per account and mailbox in
    this process (`kept`): it carries its access token and expiry, and refreshes itself (a JWT grant)
    only when google-auth finds the token expired or within its refresh margin. Raises ValueError or
    KeyError as _service_account."""
    if not kept:
        return _service_account(info_json, kept=False).with_subject(mailbox)
    email = str(json.loads(info_json).get("client_email", ""))
    return _KEPT.get(
        ("service account", email, mailbox), info_json, lambda: _service_account(info_json).with_subject(mailbox)
    )


def _user_credentials(
    token_uri: str, client_id: str, client_secret: str, refresh_token: str, *, mailbox: str, kept: bool = True
) -> Any:
    """A technician's own sign-in (their refresh token of the OAuth client), one object per client
    and mailbox in this process (`kept`) for the same reason as _delegated_credentials; a new refresh
    token (signed in again) replaces it."""

    def make() -> Any:
        return user_credentials.Credentials(
            token=None,
            refresh_token=refresh_token,
            token_uri=token_uri,
            client_id=client_id,
            client_secret=client_secret,
            scopes=[CALENDAR_SCOPE],
        )

    if not kept:
        return make()
    secrets = json.dumps([token_uri, client_secret, refresh_token])
    return _KEPT.get(("oauth", client_id, mailbox), secrets, make)


def google_provider_from_settings(settings: Mapping[str, Any], **options: Any) -> GoogleProvider:
    known = {name: settings[name] for name in GoogleSettings.__dataclass_fields__ if settings.get(name) is not None}
    return GoogleProvider(GoogleSettings(**known), **options)


class GoogleProvider:
    """CalendarProvider (and BulkCalendarProvider) for Google Calendar."""

    max_batch = MAX_BATCH

    def __init__(
        self,
        settings: GoogleSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 4,
        max_inline_wait: float = DEFAULT_MAX_INLINE_WAIT,
    ) -> None:
        self.settings = settings
        self._policy = RetryPolicy(attempts=attempts, max_inline_wait=max_inline_wait, sleep=sleep)
        self._sessions: dict[str, tuple[Any, Any]] = {}
        # (mailbox, calendar, query) -> (items so far, the token of the page that failed): see _pages.
        self._unfinished: dict[tuple[str, str, str], tuple[list[dict], str | None]] = {}

    # connection

    def _credentials(self, mailbox: str, *, kept: bool = True):
        """google-auth credentials acting as `mailbox` (lower case), kept across provider builds in
        this process with their access token (`kept`), or new ones that must sign in (an admin's
        test). ConnectionProblem for an unreadable key or a technician without a sign-in."""
        settings = self.settings
        if settings.service_account_info is not None:
            info = {**settings.service_account_info, "token_uri": settings.token_uri}
            try:
                return _delegated_credentials(json.dumps(info, sort_keys=True), mailbox, kept=kept)
            except (ValueError, KeyError) as error:
                raise ConnectionProblem(
                    f"The service account key cannot be read ({error}): download a new JSON key and enter it again."
                ) from error
        token = settings.refresh_tokens.get(mailbox)
        if not token:
            raise ConnectionProblem(
                f'{mailbox} has not connected a Google calendar yet: sign in on the "Connect my Google calendar" page.'
            )
        return _user_credentials(
            settings.token_uri, settings.client_id, settings.client_secret, token, mailbox=mailbox, kept=kept
        )

    def _session(self, mailbox: str, *, fresh: bool = False):
        """(service, authorised http) acting as `mailbox`; `fresh`: with credentials that sign in
        anew rather than a kept access token."""
        mailbox = mailbox.strip().lower()
        if fresh or mailbox not in self._sessions:
            http = google_auth_httplib2.AuthorizedHttp(
                self._credentials(mailbox, kept=not fresh), http=httplib2.Http(timeout=self.settings.timeout)
            )
            service = build(
                "calendar",
                "v3",
                http=http,
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": self.settings.api_endpoint},
            )
            self._sessions[mailbox] = (service, http)
        return self._sessions[mailbox]

    def _events(self, mailbox: str):
        return self._session(mailbox)[0].events()

    def _translate(
        self, error: Exception, mailbox: str, what: str = "event", calendar_id: str = "primary"
    ) -> ProviderError:
        client_id = str((self.settings.service_account_info or {}).get("client_id", ""))
        who = self.settings.account if self.settings.service_account_info is not None else mailbox
        # A sign-in's network failure (google-auth's TransportError) is at the token endpoint.
        address = (
            self.settings.token_uri if isinstance(error, auth_errors.TransportError) else self.settings.api_endpoint
        )
        return translate(
            error,
            who=who,
            mailbox=mailbox,
            client_id=client_id or self.settings.client_id,
            what=what,
            calendar_id=calendar_id,
            address=address,
            delegated=self.settings.service_account_info is not None,
        )

    def _call(self, mailbox: str, call: Callable[[], T], what: str = "event", calendar_id: str = "primary") -> T:
        def attempt() -> T:
            try:
                return call()
            except (HttpError, auth_errors.GoogleAuthError, httplib2.HttpLib2Error, OSError) as error:
                raise self._translate(error, mailbox, what, calendar_id) from error

        return self._policy.call(attempt)

    # CalendarProvider

    def test_connection(self, mailbox: str | None = None) -> str:
        """Read the connection's key (service account) or client (OAuth) and, with `mailbox`, open
        that technician's primary calendar: as them through domain-wide delegation, or with their
        own sign-in; ConnectionProblem saying what to fix."""
        where = self.settings.api_endpoint
        delegated = self.settings.service_account_info is not None
        if mailbox is None:
            if delegated:
                return (
                    f"The key of the connection's service account {self.settings.account} reads correctly; choose a "
                    "technician to test domain-wide delegation."
                )
            return f"OAuth client {self.settings.client_id} is set; each technician connects their own calendar."
        self._session(mailbox, fresh=True)  # the test is of the sign-in too, not of a kept access token
        try:
            calendar = self.find_calendar(mailbox)
        except ProviderError as error:
            if isinstance(error, ConnectionProblem):
                raise
            plain = unreachable_reason(error, where)
            raise ConnectionProblem(plain or f"Cannot reach Google at {where}: {error}") from error
        if delegated:
            return connection_tested(
                f"the connection's service account {self.settings.account}",
                f"through domain-wide delegation, {mailbox}'s calendar {calendar.calendar_id} opens as {mailbox}",
            )
        return connection_tested(
            f"{mailbox}, with their own sign-in on this connection", f"their calendar {calendar.calendar_id} opens"
        )

    def find_calendar(self, mailbox: str, name: str | None = None) -> RemoteCalendar:
        """calendars.get of `name` when it is a calendar id (it holds an @), else of the technician's
        primary calendar; a `name` without an @ is a calendar's title, matched ignoring case among
        the technician's calendarList entries (calendar v3 CalendarList: list, `summary`; the
        entry's own `summaryOverride` too) by base.choose_calendar, which refuses none or several."""
        service, _http = self._session(mailbox)
        if name and "@" not in name:
            calendars = service.calendarList()
            listed = [
                NamedCalendar(
                    name=entry.get("summaryOverride") or entry.get("summary") or entry["id"],
                    calendar_id=entry["id"],
                    aliases=(entry.get("summary") or "",),
                    exact=(entry["id"],),
                )
                for page in _every_page(
                    calendars, calendars.list(), lambda request: self._call(mailbox, request.execute, "calendar", name)
                )
                for entry in page.get("items", [])
                if entry.get("id")
            ]
            chosen = choose_calendar(name, listed, where=f"{mailbox} on Google")
            return RemoteCalendar(mailbox=mailbox.strip().lower(), calendar_id=chosen.calendar_id)
        calendar_id = name or "primary"
        found = self._call(
            mailbox, lambda: service.calendars().get(calendarId=calendar_id).execute(), "calendar", calendar_id
        )
        return RemoteCalendar(mailbox=mailbox.strip().lower(), calendar_id=found["id"])

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
            return self._call(calendar.mailbox, lambda: self._full_listing(calendar, window), "listing")
        return self._call(
            calendar.mailbox, lambda: self._changes_since(calendar, token, known_versions or {}), "listing"
        )

    def _pages(
        self, calendar: RemoteCalendar, *, resume: bool = False, limit: int | None = None, **query
    ) -> tuple[list[dict], str | None, str]:
        """Every item of an events.list, following nextPageToken; (items, nextSyncToken, time zone).
        `resume` (the calendar's own listing): the pages read before a failure are kept with the
        next page's token, so the retry of list_changes asks for the failing page only, not pages
        1..N-1 again (a page token stays good while its listing is unfinished). `limit`: no page is
        asked once more than `limit` items are read (pages of at most limit + 1): more than `limit`
        items back means the listing was cut there."""
        events = self._events(calendar.mailbox)
        key = (calendar.mailbox, calendar.calendar_id, json.dumps(query, sort_keys=True))
        items, page_token = self._unfinished.pop(key, ([], None)) if resume else ([], None)
        size = PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit + 1))
        first = events.list(
            calendarId=calendar.calendar_id, singleEvents=False, maxResults=size, pageToken=page_token, **query
        )
        try:
            for answer in _every_page(events, first, lambda request: request.execute()):
                items.extend(answer.get("items") or ())
                page_token = answer.get("nextPageToken")  # the page asked next, if this listing fails there
                if limit is not None and len(items) > limit:
                    break
        except Exception:
            if resume and items:
                self._unfinished[key] = (items, page_token)
            raise
        return items, answer.get("nextSyncToken"), answer.get("timeZone") or "UTC"

    def _full_listing(self, calendar: RemoteCalendar, window: Window) -> ChangePage:
        items, sync_token, zone = self._pages(
            calendar,
            resume=True,
            timeMin=window.start.astimezone(UTC).isoformat(),
            timeMax=window.end.astimezone(UTC).isoformat(),
        )
        items = [i for i in items if not is_not_busy_type(i)]
        masters = {i["id"]: i for i in items if not i.get("recurringEventId") and i.get("status") != "cancelled"}
        exceptions: dict[str, list[dict]] = {}
        for item in items:
            if item.get("recurringEventId"):
                exceptions.setdefault(item["recurringEventId"], []).append(item)
        refused: dict[str, str] = {}
        for master_id in exceptions.keys() - masters.keys():
            # An exception inside the window of a series listed without its master: read the master.
            try:
                master = self._get_resource(calendar, master_id)
            except HttpError as error:
                refused[master_id] = self._refusal(error, calendar.mailbox)
                continue
            if master is not None and master.get("status") != "cancelled" and not is_not_busy_type(master):
                masters[master_id] = master
        page = ChangePage(next_token=sync_token, full=True, unreadable=refused)
        for master_id, master in masters.items():
            try:
                page.changed.append(event_from_resource(master, exceptions.get(master_id, []), calendar_zone=zone))
            except UnreadableEntry as error:  # named in the sync log; the rest of the page stands
                page.unreadable[master_id] = str(error)
        return page

    def _changes_since(self, calendar: RemoteCalendar, token: str, known: Mapping[str, str]) -> ChangePage:
        items, sync_token, zone = self._pages(calendar, resume=True, syncToken=token)
        page = ChangePage(next_token=sync_token)
        series: set[str] = set()
        for item in items:
            if is_not_busy_type(item):
                # Never imported; gone from the helpdesk if an earlier version was.
                if not item.get("recurringEventId") and item["id"] in known:
                    page.deleted.append(item["id"])
                continue
            if item.get("recurringEventId"):
                series.add(item["recurringEventId"])
            elif item.get("status") == "cancelled":
                page.deleted.append(item["id"])
            elif item.get("recurrence"):
                series.add(item["id"])
            elif known.get(item["id"]) == item.get("etag"):
                page.unchanged.append(item["id"])
            else:
                try:
                    page.changed.append(event_from_resource(item, calendar_zone=zone))
                except UnreadableEntry as error:
                    page.unreadable[item["id"]] = str(error)
        for master_id in sorted(series - set(page.deleted)):
            try:
                event = self._series(calendar, master_id, zone)
            except UnreadableEntry as error:
                page.unreadable[master_id] = str(error)
                continue
            except HttpError as error:
                page.unreadable[master_id] = self._refusal(error, calendar.mailbox)
                continue
            if event is None:
                page.deleted.append(master_id)
            else:
                page.changed.append(event)
        return page

    def _refusal(self, error: HttpError, mailbox: str) -> str:
        """The reason one event of a listing was not given (its read refused, 403): that entry's alone,
        named in the sync log, the listing itself having been allowed. Any other error is raised as
        the listing's."""
        translated = self._translate(error, mailbox, "event")
        if not isinstance(translated, EntryRefused):
            raise error
        return str(translated)

    def rights(self, calendar: RemoteCalendar) -> CalendarRights:
        """The calendar's `accessRole` in the user's calendar list (calendar v3 CalendarList: get):
        "owner" and "writer" may change events, "reader" only see them, "freeBusyReader" sees no
        event's details; a calendar no longer in the list (404) or refused (403) is neither."""
        fix = (
            f'share {calendar.mailbox}\'s calendar with the account with "Make changes to events" (or connect the '
            "technician's own Google account again)"
        )

        def ask() -> dict:
            service = self._session(calendar.mailbox)[0]
            return service.calendarList().get(calendarId=calendar.calendar_id).execute()

        try:
            entry = self._call(calendar.mailbox, ask, "calendar", calendar.calendar_id)
        except ConnectionProblem as error:
            return CalendarRights(read=False, write=False, source=f"the calendar itself is refused: {error}", fix=fix)
        role = str(entry.get("accessRole") or "")
        return CalendarRights(
            read=role in ("owner", "writer", "reader"),
            write=role in ("owner", "writer"),
            source=f"accessRole {role or 'none'}",
            fix=fix,
        )

    def _get_resource(self, calendar: RemoteCalendar, event_id: str) -> dict | None:
        try:
            return self._events(calendar.mailbox).get(calendarId=calendar.calendar_id, eventId=event_id).execute()
        except HttpError as error:
            if status_of(error) in (404, 410):
                return None
            raise

    def _series(self, calendar: RemoteCalendar, master_id: str, zone: str = "UTC") -> RemoteEvent | None:
        """A recurring master with every exception of its series (events.list by iCalUID)."""
        master = self._get_resource(calendar, master_id)
        if master is None or master.get("status") == "cancelled" or is_not_busy_type(master):
            return None
        if not master.get("recurrence"):
            return event_from_resource(master, calendar_zone=zone)
        exceptions, cut, zone = self._series_exceptions(calendar, master, master_id)
        event = event_from_resource(master, exceptions, calendar_zone=zone)
        if cut:
            event.notes.append(
                f"The series has more than {self.settings.max_exceptions} moved or cancelled occurrences in "
                f"Google Calendar; only the first {self.settings.max_exceptions} are read "
                "(SYNC_MAX_OCCURRENCES_PER_SERIES)."
            )
        return event

    def _series_exceptions(
        self, calendar: RemoteCalendar, master: dict, master_id: str
    ) -> tuple[list[dict], bool, str]:
        """The series' exception events (moved and cancelled occurrences: events.list by iCalUID with
        showDeleted, Calendar API guide "Recurring events"), at most `max_exceptions` of them (review
        9: a series cancelled occurrence by occurrence may hold any number, each read page by page);
        whether the listing was cut there; the calendar's time zone as the listing gives it."""
        limit = self.settings.max_exceptions
        # The master comes in the same listing: one more item than the exceptions kept.
        items, _token, zone = self._pages(calendar, limit=limit + 1, iCalUID=master["iCalUID"], showDeleted=True)
        exceptions = [i for i in items if i.get("recurringEventId") == master_id]
        return exceptions[:limit], len(items) > limit + 1 or len(exceptions) > limit, zone

    # push

    def create(self, calendar: RemoteCalendar, event: RemoteEvent) -> RemoteRef:
        """events.insert under the id derived from event.marker (sendUpdates=none); a 409 means a
        previous try made it: that entry is read and used. Moved occurrences are patched after."""
        return self._call(calendar.mailbox, lambda: self._create(calendar, event), "insert")

    def _insert_request(self, calendar: RemoteCalendar, event: RemoteEvent):
        return self._events(calendar.mailbox).insert(
            calendarId=calendar.calendar_id, body=insert_body(event), sendUpdates=NO_NOTIFICATIONS
        )

    def _create(self, calendar: RemoteCalendar, event: RemoteEvent) -> RemoteRef:
        try:
            created = self._insert_request(calendar, event).execute()
        except HttpError as error:
            if status_of(error) != 409 or not event.marker:
                raise
            return self._after_write(calendar, self._existing(calendar, event), event)
        return self._after_write(calendar, created, event, fresh=True)

    def _existing(self, calendar: RemoteCalendar, event: RemoteEvent) -> dict:
        logger.info("Entry %s already in %s's calendar; not creating it again", event.marker, calendar.mailbox)
        found = self._get_resource(calendar, event_id_for(event.marker))
        if found is None:
            raise ProviderError("Google reports the entry as existing but does not return it.")
        if found.get("status") == "cancelled":
            # Deleted meanwhile: its id stays taken, so the entry is brought back with our fields.
            body = {**insert_body(event), "status": "confirmed"}
            body.pop("id", None)
            found = (
                self._events(calendar.mailbox)
                .update(calendarId=calendar.calendar_id, eventId=found["id"], body=body, sendUpdates=NO_NOTIFICATIONS)
                .execute()
            )
        return found

    def _after_write(
        self,
        calendar: RemoteCalendar,
        resource: dict,
        event: RemoteEvent,
        *,
        fresh: bool = False,
        base: RemoteEvent | None = None,
    ) -> RemoteRef:
        """The ref of a written master, once its occurrences are as `event` wants them. A series
        inserted just now (`fresh`) has no exception events yet: only its moved occurrences are written.
        `base`: the series as last read, exceptions included (see `_reconcile_exceptions`)."""
        if event.is_recurring and (event.overrides or not fresh):
            self._reconcile_exceptions(calendar, resource["id"], event, master=resource, base=base)
        return RemoteRef(remote_id=resource["id"], version=resource.get("etag"), raw=json.dumps(resource))

    def _exception_resources(
        self, calendar: RemoteCalendar, master_id: str, master: dict | None = None
    ) -> tuple[dict | None, list[dict]]:
        """(master, its exception events, cancelled ones included) as Google holds them now; the
        master is read unless given (as just written)."""
        if master is None:
            master = self._get_resource(calendar, master_id)
        if master is None or master.get("status") == "cancelled" or not master.get("recurrence"):
            return None, []
        exceptions, _cut, _zone = self._series_exceptions(calendar, master, master_id)
        return master, exceptions

    def _check_exceptions_since(self, calendar: RemoteCalendar, master_id: str, read: RemoteEvent | None) -> None:
        """Before a write of a series' master: raise VersionConflict when the series' exception
        events (moved or cancelled occurrences) differ from `read`, the series as last read.

        Google keeps each such occurrence as an event of its own with its own etag (Calendar API
        guide "Recurring events"), so a cancellation made on the phone leaves the master's etag
        as it was and the master's If-Match lets a series move through over it. Compared item by
        item (`exception_items`, keyed by original start) on `read`'s own series, as the listing
        is read with `read`'s master; nothing is checked without a recurring `read` carrying its
        master resource (`raw`). One events.list by iCalUID (showDeleted), bounded by
        `max_exceptions` as `_series` reads it. Raises ProviderError subclasses only."""
        if read is None or not read.is_recurring or not read.raw:
            return
        master = json.loads(read.raw)
        if not master.get("iCalUID"):  # an older stored form: the listing needs the series' iCalUID
            master = self._get_resource(calendar, master_id)
            if master is None or master.get("status") == "cancelled":
                raise RemoteNotFound(f"The entry is no longer in {calendar.mailbox}'s calendar.")
        exceptions, _cut, zone = self._series_exceptions(calendar, master, master_id)
        now = event_from_resource(master, exceptions, calendar_zone=zone)
        if exception_items(dataclasses.replace(read, exdates=now.exdates, overrides=now.overrides)) != (
            exception_items(read)
        ):
            raise VersionConflict(
                f"An occurrence of the series changed in {calendar.mailbox}'s calendar since we last read it."
            )

    def _reconcile_exceptions(
        self,
        calendar: RemoteCalendar,
        master_id: str,
        event: RemoteEvent,
        *,
        master: dict | None = None,
        base: RemoteEvent | None = None,
    ) -> None:
        """Bring the series' exception events exactly to event.exdates / event.overrides.

        Google keeps a moved or cancelled occurrence as an event of its own ("<master>_<original
        start>", recurringEventId, originalStartTime); rewriting the master's RRULE/EXDATE leaves
        it in place (Calendar API guide "Recurring events"). So: a wanted override is patched onto
        its instance (status "confirmed", brought back if cancelled); a wanted exdate whose instance
        is still shown is deleted; any other exception is restored to the occurrence the rule gives
        (status "confirmed", original start, the series' length and texts).

        An exception event has an etag of its own: the master's If-Match does not cover it. With
        `base` (the series as last read, exceptions included), an exception changed in Google since
        then that `event` does not change is left as it is (a cancellation made on the phone is
        the technician's, for the next pull to read: SPEC S3.8), and one both changed raises
        VersionConflict, as a 412 would, so the engine decides it again on the series as it is now."""
        master, exceptions = self._exception_resources(calendar, master_id, master)
        if master is None:
            return
        zone = event.time_zone or (master.get("start") or {}).get("timeZone") or "UTC"
        left_alone = _changed_there(base, event, master, exceptions, zone, calendar.mailbox)
        current = event_from_resource(master, [e for e in exceptions if e.get("status") != "cancelled"])
        moved = {_key(o.original_start): o for o in current.overrides}
        instances = {_key(parse_event_time(e["originalStartTime"], zone)): e for e in exceptions}
        wanted_exdates = {_key(value) for value in event.exdates}
        wanted = {_key(o.original_start): o for o in event.overrides}
        events = self._events(calendar.mailbox)

        def patch(instance_key: str, body: dict) -> None:
            events.patch(
                calendarId=calendar.calendar_id, eventId=instance_key, body=body, sendUpdates=NO_NOTIFICATIONS
            ).execute()

        for key, override in wanted.items():
            if moment_key(override.original_start) in left_alone:
                continue
            found = instances.get(key)
            cancelled = found is not None and found.get("status") == "cancelled"
            if not cancelled and same_override(moved.get(key), override, event):
                continue
            body = occurrence_patch(override, event, None if cancelled else moved.get(key))
            if cancelled:
                body["status"] = "confirmed"
            patch(found["id"] if found else instance_id(master_id, override.original_start), body)
        for key, found in instances.items():
            if key in wanted:
                continue
            if moment_key(parse_event_time(found["originalStartTime"], zone)) in left_alone:
                continue
            cancelled = found.get("status") == "cancelled"
            if key in wanted_exdates:
                if not cancelled:
                    events.delete(
                        calendarId=calendar.calendar_id, eventId=found["id"], sendUpdates=NO_NOTIFICATIONS
                    ).execute()
                continue
            original = parse_event_time(found["originalStartTime"], zone)
            if not occurs_on(event, original) and key not in {_key(value) for value in event.rdates}:
                # The series moved (a new start or rule): this exception names no occurrence any more
                # (RFC 5545 3.8.4.4), and Google keeps it as an event of its own at its old time.
                if not cancelled:
                    events.delete(
                        calendarId=calendar.calendar_id, eventId=found["id"], sendUpdates=NO_NOTIFICATIONS
                    ).execute()
                continue
            if cancelled or key in moved:
                patch(found["id"], restore_patch(event, original))

    def update(
        self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, *, base: RemoteEvent | None = None
    ) -> RemoteRef:
        """events.patch writing only the owned fields that differ from `base` (read first when not
        given), with If-Match: ref.version and sendUpdates=none. The reminder is written only on
        entries carrying our marker. Nothing to write, or an entry of a special eventType (focus
        time, out of office, from Gmail: never written): the same ref back without a write. A
        series' exception events are then brought to event.exdates / event.overrides, the ones no
        longer wanted restored (see _reconcile_exceptions). Before a series' master is patched, its
        exception events are compared with `base` (one events.list more, `_check_exceptions_since`).
        Raises VersionConflict on 412 or on exception events changed since `base`, RemoteNotFound
        on 404/410."""
        return self._call(calendar.mailbox, lambda: self._update(calendar, ref, event, base), "write")

    def _update_request(self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, base: RemoteEvent):
        """The patch request for an update against `base`, or None when nothing differs."""
        current = json.loads(base.raw) if base.raw else {}
        if is_read_only(current):
            return None
        ours = bool(event.marker) and marker_of(current) == event.marker
        changes = patch_body(event, base, ours=ours, current=current)
        if not changes:
            return None
        request = self._events(calendar.mailbox).patch(
            calendarId=calendar.calendar_id, eventId=ref.remote_id, body=changes, sendUpdates=NO_NOTIFICATIONS
        )
        if ref.version:
            request.headers["If-Match"] = ref.version
        return request

    def _update(
        self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, base: RemoteEvent | None
    ) -> RemoteRef:
        read = base  # the series as last read (exceptions included), when the caller gave it
        if base is None or not base.raw:
            current = self._get_resource(calendar, ref.remote_id)
            if current is None or current.get("status") == "cancelled":
                raise RemoteNotFound(f"The entry is no longer in {calendar.mailbox}'s calendar.")
            if base is None:
                base = event_from_resource(current)
            else:
                base = RemoteEvent(**{**base.__dict__, "raw": json.dumps(current)})
        request = self._update_request(calendar, ref, event, base)
        if request is not None:
            # Before the master is written: its If-Match does not cover the exception events.
            # `base` is `read` with the master's raw form read now when it had none.
            self._check_exceptions_since(calendar, ref.remote_id, base if read is not None else None)
        if request is None:
            resource = json.loads(base.raw)
            if is_read_only(resource):
                logger.info("Entry %s is a Google %s entry: never written", ref.remote_id, resource.get("eventType"))
            elif event.is_recurring:
                self._reconcile_exceptions(calendar, ref.remote_id, event, base=read)
            return RemoteRef(remote_id=ref.remote_id, version=ref.version or resource.get("etag"), raw=base.raw)
        return self._after_write(calendar, request.execute(), event, base=read)

    def get(self, calendar: RemoteCalendar, ref: RemoteRef, window: Window | None = None) -> RemoteEvent | None:
        """The entry as Google holds it now (events.get, and its exceptions for a series), or None."""
        return self._call(calendar.mailbox, lambda: self._series(calendar, ref.remote_id))

    def find_by_marker(self, calendar: RemoteCalendar, marker: str, window: Window | None = None) -> RemoteEvent | None:
        """The entry we inserted under the id derived from `marker` (events.get: the id is ours to
        choose, Events resource "id"), or None when there is none or it was deleted."""
        return self.get(calendar, RemoteRef(event_id_for(marker), None), window)

    def delete(self, calendar: RemoteCalendar, ref: RemoteRef) -> None:
        """events.delete with sendUpdates=none, and If-Match: ref.version when given (VersionConflict:
        the entry changed since it was read); 404 and 410 (already deleted) count as done."""

        def delete() -> None:
            if self._special_entry(calendar, ref):
                return
            try:
                self._delete_request(calendar, ref).execute()
            except HttpError as error:
                if not self._already_deleted(calendar, ref, error):
                    raise

        try:
            self._call(calendar.mailbox, delete, "write")
        except RemoteNotFound:
            logger.info("Entry %s was already gone from %s's calendar", ref.remote_id, calendar.mailbox)

    def _special_entry(self, calendar: RemoteCalendar, ref: RemoteRef) -> bool:
        """True when `ref` is an entry of a special eventType (read first; entries we inserted have
        ids derived from our marker and are never special): such entries are never deleted."""
        if ref.remote_id.startswith(OUR_ID_PREFIX):
            return False
        found = self._get_resource(calendar, ref.remote_id)
        if found is not None and found.get("status") != "cancelled" and is_read_only(found):
            logger.info("Entry %s is a Google %s entry: never deleted", ref.remote_id, found.get("eventType"))
            return True
        return False

    def _already_deleted(self, calendar: RemoteCalendar, ref: RemoteRef, error: HttpError) -> bool:
        """Does a delete's error mean the entry is gone already: 404 or 410, or a conditional
        delete's 412 for an entry whose deletion left a newer etag (its "cancelled" remains)?"""
        if status_of(error) in (404, 410):
            return True
        if status_of(error) != 412:
            return False
        found = self._get_resource(calendar, ref.remote_id)
        return found is None or found.get("status") == "cancelled"

    def _delete_request(self, calendar: RemoteCalendar, ref: RemoteRef):
        request = self._events(calendar.mailbox).delete(
            calendarId=calendar.calendar_id, eventId=ref.remote_id, sendUpdates=NO_NOTIFICATIONS
        )
        if ref.version:
            # Conditional deletion (Calendar API "Versions of resources"): an entry the technician
            # changed since we read it answers 412, and the engine lets the conflict rule decide.
            request.headers["If-Match"] = ref.version
        return request

    # push channels (Calendar API "Push notifications" guide)

    def watch(
        self, calendar: RemoteCalendar, *, address: str, channel_id: str, token: str, ttl_seconds: int
    ) -> tuple[str, datetime]:
        """Open a web_hook channel on the calendar's events (events.watch): Google POSTs to `address`
        (https in production) with X-Goog-Channel-Token = `token` whenever something changes.
        Returns (resourceId, expiration as an aware UTC datetime); the channel lasts at most
        `ttl_seconds`, and Google may cut it shorter."""
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "params": {"ttl": str(int(ttl_seconds))},
        }

        def watch() -> dict:
            request = self._events(calendar.mailbox).watch(calendarId=calendar.calendar_id, body=body)
            return request.execute()

        answer = self._call(calendar.mailbox, watch, "calendar", calendar.calendar_id)
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
        return answer["resourceId"], expires

    def stop_watch(self, calendar: RemoteCalendar, *, channel_id: str, resource_id: str) -> None:
        """End a channel (channels.stop); one Google no longer knows counts as ended."""
        service, _http = self._session(calendar.mailbox)

        def stop() -> None:
            service.channels().stop(body={"id": channel_id, "resourceId": resource_id}).execute()

        try:
            self._call(calendar.mailbox, stop)
        except RemoteNotFound:
            logger.info("Channel %s was already gone", channel_id)

    # BulkCalendarProvider

    def apply_bulk(self, calendar: RemoteCalendar, ops: list[BulkOp]) -> list[BulkResult]:
        """The ops in batch requests of up to 50 calls (POST to the batch URI, multipart/mixed), one
        result per op in order. An op needing a read first (an update without `base.raw`) or follow-up
        calls (a series' moved occurrences, a 409 on insert) does those on its own afterwards."""
        results: list[BulkResult | None] = [None] * len(ops)
        for start in range(0, len(ops), MAX_BATCH):
            chunk = list(range(start, min(start + MAX_BATCH, len(ops))))
            self._call(calendar.mailbox, lambda chunk=chunk: self._run_batch(calendar, ops, chunk, results))
        return [result or BulkResult(error=ProviderError("No answer for this item.")) for result in results]

    def _run_batch(
        self, calendar: RemoteCalendar, ops: list[BulkOp], indexes: list[int], results: list[BulkResult | None]
    ) -> None:
        answers: dict[str, tuple[Any, Exception | None]] = {}
        batch = BatchHttpRequest(
            callback=lambda request_id, response, error: answers.__setitem__(request_id, (response, error)),
            batch_uri=self.settings.batch_uri,
        )
        queued: dict[str, int] = {}
        for index in indexes:
            if results[index] is not None:
                continue
            op = ops[index]
            try:
                request = self._bulk_request(calendar, op)
            except _NeedsSingleCall:
                try:
                    results[index] = BulkResult(ref=self.update(calendar, op.ref, op.event, base=op.base))
                except ProviderError as error:
                    results[index] = BulkResult(error=error)
                continue
            except ProviderError as error:
                results[index] = BulkResult(error=error)
                continue
            if request is None:  # an update with nothing to write, or a special entry left alone
                raw = op.base.raw if op.base is not None else None
                results[index] = BulkResult(
                    ref=None if op.kind == "delete" else RemoteRef(op.ref.remote_id, op.ref.version, raw)
                )
                continue
            queued[str(index)] = index
            batch.add(request, request_id=str(index))
        if not queued:
            return
        batch.execute(http=self._session(calendar.mailbox)[1])
        for request_id, index in queued.items():
            response, error = answers.get(request_id, (None, ProviderError("No answer for this item.")))
            results[index] = self._bulk_result(calendar, ops[index], response, error)

    def _bulk_request(self, calendar: RemoteCalendar, op: BulkOp):
        if op.kind == "create":
            return self._insert_request(calendar, op.event)
        if op.kind == "delete":
            if self._call(calendar.mailbox, lambda: self._special_entry(calendar, op.ref)):
                return None
            return self._delete_request(calendar, op.ref)
        if op.kind == "update":
            if op.base is None or not op.base.raw:
                raise _NeedsSingleCall
            request = self._update_request(calendar, op.ref, op.event, op.base)
            if request is None and op.event.is_recurring:
                # Nothing to write on the master, but its exception events may differ (an occurrence
                # edited on its own): the single update brings them to the series (_reconcile_exceptions).
                raise _NeedsSingleCall
            if request is not None:
                # As a single update: the exception events are compared before the master is written.
                self._call(calendar.mailbox, lambda: self._check_exceptions_since(calendar, op.ref.remote_id, op.base))
            return request
        raise ProviderError(f"Unknown bulk operation {op.kind!r}.")

    def _bulk_result(self, calendar: RemoteCalendar, op: BulkOp, response, error) -> BulkResult:
        try:
            if error is not None:
                if (
                    op.kind == "delete"
                    and isinstance(error, HttpError)
                    and self._call(calendar.mailbox, lambda: self._already_deleted(calendar, op.ref, error))
                ):
                    return BulkResult()
                if op.kind == "create" and isinstance(error, HttpError) and status_of(error) == 409 and op.event.marker:
                    response = self._call(calendar.mailbox, lambda: self._existing(calendar, op.event))
                else:
                    what = "insert" if op.kind == "create" else "write"
                    raise self._translate(error, calendar.mailbox, what) if isinstance(error, HttpError) else error
            if op.kind == "delete":
                return BulkResult()
            fresh = op.kind == "create" and error is None
            base = op.base if op.kind == "update" else None
            ref = self._call(
                calendar.mailbox, lambda: self._after_write(calendar, response, op.event, fresh=fresh, base=base)
            )
            return BulkResult(ref=ref)
        except ProviderError as failure:
            return BulkResult(error=failure)


class _NeedsSingleCall(ProviderError):
    """An op the batch cannot carry as it is; apply_bulk runs it on its own."""


def _every_page(collection: Any, request: Any, execute: Callable[[Any], dict]) -> Iterator[dict]:
    """Each answer of a list `request` of `collection` (`execute` runs one page's request), then of
    the pages after it: the client library's own `list_next`, which follows nextPageToken (calendar
    v3 "Pagination": the last page has no nextPageToken, and events.list's carries nextSyncToken)."""
    while request is not None:
        answer = execute(request)
        yield answer
        request = collection.list_next(request, answer)


def _changed_there(
    base: RemoteEvent | None, event: RemoteEvent, master: dict, exceptions: list[dict], zone: str, mailbox: str
) -> set[str]:
    """The series' exceptions (original starts as `moment_key` gives them) Google changed since
    `base` (the series as last read) that `event` (the helpdesk's) leaves as they were: not to be
    written over. Raises VersionConflict for one both changed to different values. Empty without
    a `base` series to compare with. Exceptions are compared item by item on `base`'s series
    (`exception_items`), so the master just written (a new subject) changes none of them."""
    if base is None or not base.is_recurring:
        return set()
    read = event_from_resource(master, exceptions, calendar_zone=zone)
    now = exception_items(dataclasses.replace(base, exdates=read.exdates, overrides=read.overrides))
    had, wanted = exception_items(base), exception_items(event)
    left = set()
    for key in set(had) | set(now):
        if now.get(key) in (had.get(key), wanted.get(key)):
            continue
        if wanted.get(key) != had.get(key):
            raise VersionConflict(f"An occurrence changed in {mailbox}'s calendar since we last read it.")
        left.add(key)
    return left


def _key(value):
    return value.astimezone(UTC) if hasattr(value, "astimezone") and hasattr(value, "hour") else value


__all__ = ["GoogleProvider", "GoogleSettings", "google_provider_from_settings", "reason_of"]
