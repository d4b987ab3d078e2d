"""CalDAV (RFC 4791) on the `caldav` library: Nextcloud, Fastmail, iCloud, Radicale, ...

Our entries are iCalendar objects whose UID is our marker, stored at <calendar>/<UID>.ics and
created with If-None-Match: * so a retried create can never make a second one. Changes are read
with sync-collection (RFC 6578); a refused token raises SyncTokenExpired so the engine resyncs.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import re
import zoneinfo
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TypeVar
from urllib.parse import quote, unquote, urljoin, urlsplit

import caldav
import caldav.lib.url
import icalendar
from caldav.lib import error as dav_error
from icalendar.parser.content_line import UFOLD
from icalendar.parser.property import unescape_backslash
from lxml import etree

from calendars import times
from calendars.ical_zones import MAX_ZONE_BLOCK, block_tzid, keep_blocks, own_zones, zone_from_block, zone_of_block
from calendars.vtimezone import add_missing_vtimezones, entry_span
from integrations.providers.base import (
    MAX_BODY,
    CalendarRights,
    ChangePage,
    ConnectionProblem,
    EntryRefused,
    NamedCalendar,
    ProviderError,
    RemoteCalendar,
    RemoteEvent,
    RemoteNotFound,
    RemoteOccurrence,
    RemoteRef,
    SyncTokenExpired,
    TransientError,
    UnreadableEntry,
    VersionConflict,
    Window,
    choose_calendar,
    connection_tested,
    gives_a_date,
    no_such_time,
    reads_untrusted,
    unknown_zone_note,
    unreachable_reason,
)
from integrations.providers.zones import on_series_zone, series_zone_note
from integrations.sync.normalise import rrule_key, same_text, span_of

logger = logging.getLogger(__name__)

T = TypeVar("T")
PRODID = "-//Helpdesk//Calendar sync//EN"
# Marks the VALARM we set, so an update replaces ours and never one the user added.
OWN_ALARM = "X-HELPDESK-REMINDER"
SYNC_TOKEN_PRECONDITION = "{DAV:}valid-sync-token"
_STREAM_CHUNK = 64 * 1024  # bytes of a listing's answer parsed at a time
# A whole VTIMEZONE block, from its BEGIN line to its END line (folded lines start with a blank, so
# an END at a line's start is the block's own).
_ZONE_BLOCK = re.compile(r"^BEGIN:VTIMEZONE\r?\n.*?^END:VTIMEZONE[ \t]*(?:\r?\n|\Z)", re.M | re.S | re.I)


class CalDAVProvider:
    """One CalDAV account. `calendar_home` (optional) is where a technician's calendars live when
    one service account reaches everyone's, e.g. "/{user}/" ({user}: the part of the technician's
    mailbox before the @, {mailbox}: all of it); without it, the account's own calendars."""

    def __init__(
        self,
        url: str,
        username: str = "",
        password: str = "",
        *,
        calendar_home: str = "",
        timeout: float = 15,
    ) -> None:
        self.url = url
        self.username = username
        self.calendar_home = calendar_home
        self.client = caldav.DAVClient(
            url=url,
            username=username or None,
            password=password or "",
            auth_type="basic" if username else None,  # one request per call, not a 401 first
            timeout=timeout,
            enable_rfc6764=False,
            require_tls=False,
            rate_limit_handle=False,
        )
        # Loopback and intranet servers must not go through the environment's proxies / CA bundle.
        self.client.session.trust_env = False

    # --- errors ---------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], T], *, item: bool = False, write: bool = False) -> T:
        """Run one protocol exchange and turn the library's errors into the interface's (`item`:
        the request names one calendar object; `write`: it writes it; see `_translate`)."""
        try:
            return call()
        except ProviderError:
            raise
        except dav_error.RateLimitError as error:
            raise TransientError(
                f"{what}: the server asks us to slow down", retry_after=error.retry_after_seconds
            ) from error
        except dav_error.DAVError as error:
            raise self._translate(what, error, item=item, write=write) from error
        except OSError as error:  # niquests' connection errors and timeouts are OSErrors
            plain = unreachable_reason(error, self.url)
            raise TransientError(plain or f"{what}: cannot reach the CalDAV server at {self.url}.") from error

    def _translate(
        self, what: str, error: dav_error.DAVError, *, item: bool = False, write: bool = False
    ) -> ProviderError:
        """The library's error as ours. A 403 on a request naming one calendar object is
        EntryRefused (RFC 4918 9.7.2, RFC 3744 7.1.1: the server refuses that resource; a private
        or locked object, or the calendar's write right gone, which the engine tells apart by asking
        `rights`); on the calendar itself it is a ConnectionProblem."""
        status = error.status
        if SYNC_TOKEN_PRECONDITION in (error.preconditions or []):
            return SyncTokenExpired(f"{what}: the server no longer knows our sync token")
        if status == 401:
            return ConnectionProblem(
                f"The CalDAV server at {self.url} refused the user name or password for {self.username!r}: "
                "check the connection's credentials."
            )
        if status == 403 and item:
            return _refused(what, self.username, error.reason, write=write)
        if status == 403:
            return ConnectionProblem(f"{what}: the account {self.username!r} has no right to do this ({error.reason}).")
        if status == 404:
            return RemoteNotFound(f"{what}: not found")
        if status == 412:
            return VersionConflict(f"{what}: the entry changed on the server")
        if status is None or status >= 500 or status == 429:
            return TransientError(f"{what}: the server answered {status or 'nothing usable'} ({error.reason})")
        return ProviderError(f"{what}: the server answered {status} ({error.reason})")

    def _request(
        self,
        what: str,
        url: str,
        method: str,
        body: str = "",
        headers: dict | None = None,
        *,
        item: bool = False,
        write: bool = False,
    ):
        response = self._call(
            what, lambda: self.client.request(url, method, body, headers or {}), item=item, write=write
        )
        status = response.status
        if status >= 500 or status == 429:
            raise TransientError(f"{what}: the server answered {status}")
        return response

    # --- discovery ------------------------------------------------------------------------

    def _home_url(self, mailbox: str) -> str | None:
        if not self.calendar_home:
            return None
        user = mailbox.split("@", 1)[0]
        return urljoin(self.url, self.calendar_home.format(user=quote(user), mailbox=quote(mailbox)))

    def _calendars(self, mailbox: str) -> list:
        home = self._home_url(mailbox)
        if home is None:
            return list(self.client.principal().calendars())
        return list(caldav.CalendarSet(client=self.client, url=home).calendars())

    def test_connection(self, mailbox: str | None = None) -> str:
        """Reach the server and sign in with the connection's account; with a mailbox, also list the
        calendars a link of that technician reaches: their calendar home through the account when
        the connection has one, else the account's own calendars (the technician is not asked for:
        every technician linked to a one-account connection reaches the same calendars)."""
        account = f"the connection's account {self.username or 'anonymous'!r} on the CalDAV server {self.url}"
        try:
            self._call("Connecting", self.client.principal)
            if mailbox is None:
                return connection_tested(account)
            calendars = self._call("Connecting", lambda: self._calendars(mailbox))
        except TransientError as error:
            raise ConnectionProblem(
                unreachable_reason(error, self.url) or f"The CalDAV server at {self.url} cannot be reached: {error}"
            ) from error
        except RemoteNotFound as error:
            raise ConnectionProblem(
                f"Nothing at {self.url} for {mailbox or self.username}: no CalDAV calendars at this path; check "
                "the path in the server address."
            ) from error
        if not calendars:
            raise ConnectionProblem(f"No calendar of {self.whose(mailbox)} exists: create one first.")
        home = self._home_url(mailbox)
        if home is None:
            return connection_tested(account, f"the account holds {len(calendars)} calendar(s)")
        return connection_tested(
            account, f"through it, {mailbox}'s calendar home {home} holds {len(calendars)} calendar(s)"
        )

    def whose(self, mailbox: str) -> str:
        """Whose calendars this connection reads for `mailbox`, in words: the technician's calendar
        home when the connection has one (a service account reaching everyone's), else the
        connection's own account, whoever the technician is."""
        home = self._home_url(mailbox)
        if home is not None:
            return f"{mailbox} (calendar home {home}, through the account {self.username or 'anonymous'!r})"
        return f"the account {self.username or 'anonymous'!r} on {self.url}"

    def find_calendar(self, mailbox: str, name: str | None = None) -> RemoteCalendar:
        """The first calendar of the technician's calendar home (or of the connection's account),
        or the one `name` names: its address, or its display name (DAV:displayname, RFC 4918 15.2)
        or the last segment of its address ignoring case (base.choose_calendar). Raises
        ConnectionProblem when there is no calendar, when none is called `name` (naming those
        there are) or when several are."""
        calendars = self._call("Finding the calendar", lambda: self._calendars(mailbox))
        if not name:
            if not calendars:
                raise ConnectionProblem(f"No calendar of {self.whose(mailbox)} exists: create one first.")
            return RemoteCalendar(mailbox=mailbox, calendar_id=str(calendars[0].url))
        listed = []
        for calendar in calendars:
            url = str(calendar.url)
            segment = unquote(url.rstrip("/").rsplit("/", 1)[-1])
            display = self._call("Reading the calendar name", calendar.get_display_name) or ""
            listed.append(
                NamedCalendar(
                    name=display or segment, calendar_id=url, aliases=(segment,), exact=(url, urlsplit(url).path)
                )
            )
        chosen = choose_calendar(name, listed, where=self.whose(mailbox))
        return RemoteCalendar(mailbox=mailbox, calendar_id=chosen.calendar_id)

    def make_calendar(self, mailbox: str, name: str) -> RemoteCalendar:
        """Create a calendar (used by the demo and tests; servers differ in who may do this)."""
        home = self._home_url(mailbox)
        if home:
            # Some servers (Radicale) make a user's home only when that user first logs in.
            self._request("Creating the calendar home", home, "MKCOL")
        parent = caldav.CalendarSet(client=self.client, url=home) if home else self.client.principal()
        calendar = self._call("Creating the calendar", lambda: parent.make_calendar(name=name, cal_id=name))
        return RemoteCalendar(mailbox=mailbox, calendar_id=str(calendar.url))

    # --- reading ----------------------------------------------------------------------------

    def _calendar(self, calendar: RemoteCalendar):
        return self.client.calendar(url=calendar.calendar_id)

    def list_changes(
        self,
        calendar: RemoteCalendar,
        token: str | None,
        window: Window,
        *,
        known_versions: Mapping[str, str] | None = None,
        known_series: Collection[str] | None = None,
    ) -> ChangePage:
        """The calendar's changes since `token` (all of it with no token) in one sync-collection
        REPORT (RFC 6578 3.2) that asks for each member's getetag and calendar-data (RFC 4791 9.6),
        so every entry is read in that one request and parsed once.

        A member whose getetag is the one in `known_versions` (our own write coming back) is
        reported unchanged and not parsed. With no token the page is a full listing of `window`:
        members that touch it (a series by its first start and, when it ends, its last
        occurrence's end). An object that cannot be read (malformed iCalendar, values the helpdesk
        cannot hold) goes in `ChangePage.unreadable` with its reason. Raises SyncTokenExpired when
        the server refuses the token (RFC 6578 3.2: DAV:valid-sync-token).
        """
        known_versions = known_versions or {}
        url = calendar.calendar_id
        what = "Reading changes" if token else "Listing the calendar"
        headers = {"Depth": "1", "Content-Type": 'application/xml; charset="utf-8"'}
        with_data = True
        page = ChangePage(next_token="", full=not token)
        zones_read: set[str] = set()  # every entry repeats the calendar's VTIMEZONEs: read each once

        def read(member) -> None:
            """Put one DAV:response of the answer on the page."""
            href = member.findtext(_DAV + "href")
            if not href or not href.strip().lower().endswith(".ics"):
                return  # the collection itself, or a member that is no calendar object
            path = _member_path(url, href.strip())
            etag, data = None, None
            for propstat in member.iter(_DAV + "propstat"):
                if not _ok(propstat.findtext(_DAV + "status")):
                    continue
                etag = propstat.findtext(f"{_DAV}prop/{_DAV}getetag") or etag
                data = propstat.findtext(f"{_DAV}prop/{_CALDAV}calendar-data") or data
            if data is None and _refused_status(member):
                # RFC 4918 13 / RFC 3744 7.1.1: the server lists the object but will not show it to us.
                page.unreadable[path] = str(_refused("Reading an entry", self.username, "403 Forbidden", write=False))
                return
            if data is None and (with_data or etag is None):
                if token and not _ok(member.findtext(_DAV + "status") or "200"):
                    page.deleted.append(path)  # RFC 6578 3.5.2: a removed member is a 404 status
                return
            if etag and known_versions.get(path) and _same_etag(etag, known_versions[path]):
                page.unchanged.append(path)  # our own write coming back: nothing to parse
                return
            try:
                if data is None:
                    event = self.get(calendar, RemoteRef(remote_id=path, version=etag))
                else:
                    event = read_event(
                        data, remote_id=path, version=etag, zones_read=zones_read, owner=calendar.mailbox
                    )
            except UnreadableEntry as error:
                page.unreadable[path] = str(error)  # named in the sync log, read again next pull
                return
            if event is not None and (token or _in_window(event, window)):
                page.changed.append(event)

        # The usual answer (207, XML) is read as it arrives, each member let go once read: a big
        # calendar's listing never holds its whole text or tree (issue 14: caldav's response
        # holds the body twice and its whole tree, about 20 MiB of a 5,000-entry import's peak).
        try:
            body = _sync_collection_body(token)
            streamed = self._call(what, lambda: self._read_streamed(what, url, body, headers, read))
        except etree.XMLSyntaxError:
            streamed = None
            page = ChangePage(next_token="", full=not token)  # what was read goes: read again below
            zones_read.clear()
        if streamed is not None:
            page.next_token = streamed
            return page
        # Anything else (an error status, a body no XML parser reads) goes the library's way.
        try:
            response = self._request(what, url, "REPORT", _sync_collection_body(token), headers)
        except etree.XMLSyntaxError:
            # A server that keeps characters XML 1.0 cannot carry (a NUL in an entry's text) sends
            # an answer no XML parser reads: list the members without their data, read each alone.
            logger.warning("%s: the answer with calendar data is not XML; reading entries one by one", what)
            with_data = False
            response = self._request(what, url, "REPORT", _sync_collection_body(token, with_data=False), headers)
        if response.status in (403, 409) and SYNC_TOKEN_PRECONDITION in dav_error.parse_preconditions(response.raw):
            raise SyncTokenExpired("Reading changes: the server no longer knows our sync token")
        if response.status == 404:
            raise RemoteNotFound(
                f"Reading changes: there is no calendar at {url} (the server answered 404 Not Found). "
                "Check the connection's server address, or link the technician's calendar again."
            )
        if response.status != 207 or response.tree is None:
            raise ProviderError(f"Reading changes: the server answered {response.status}")
        # From here only the tree is read: the body it was parsed from goes now, and each member
        # leaves the tree once read, so the tree shrinks as the entries are read.
        tree, response = response.tree, None
        page.next_token = (tree.findtext(_DAV + "sync-token") or "").strip()
        for member in _taken(tree, _DAV + "response"):
            read(member)
        return page

    def _read_streamed(self, what: str, url: str, body: str, headers: dict, read: Callable) -> str | None:
        """Send the REPORT `body` and, when the server answers 207 with XML, give each DAV:response
        of the answer to `read` as it is parsed (then let it go) and return the DAV:sync-token
        (stripped, "" when there is none). None, with nothing read, for any other answer or a
        client that only authenticates after a 401: the caller asks again the library's way,
        which handles it or says what went wrong. A 429, or a 503 with Retry-After, raises the
        library's RateLimitError, another 5xx TransientError. Raises etree.XMLSyntaxError when
        the body is not XML (`read` may have seen members by then), and niquests' errors
        (OSError) as the library would."""
        client = self.client
        if client.auth is None and client.username:
            return None  # credentials the library only turns into an auth after a 401
        combined = client.headers.copy()
        combined.update(headers)
        response = client.session.request(
            "REPORT",
            str(caldav.lib.url.URL.objectify(url)),
            data=body.encode(),
            headers=combined,
            proxies={urlsplit(url).scheme: client.proxy} if client.proxy else None,
            auth=client.auth,
            timeout=client.timeout,
            verify=client.ssl_verify_cert,
            cert=client.ssl_cert,
            stream=True,
        )
        with response:
            status, kind = response.status_code, response.headers.get("Content-Type", "")
            # As the library's request and `_request` answer these (a retry is the caller's).
            dav_error.raise_if_rate_limited(status, str(url), response.headers.get("Retry-After"))
            if status >= 500:
                raise TransientError(f"{what}: the server answered {status}")
            if status != 207 or not kind.startswith(("text/xml", "application/xml")):
                return None
            parser = etree.XMLPullParser(
                events=("end",),
                tag=(_DAV + "response", _DAV + "sync-token"),
                remove_blank_text=True,
                huge_tree=client.huge_tree,
                resolve_entities=False,
                no_network=True,
            )
            token = ""
            for chunk in itertools.chain(response.iter_content(_STREAM_CHUNK), [None]):
                if chunk is None:
                    parser.close()
                else:
                    parser.feed(chunk)
                for _event, element in parser.read_events():
                    if element.tag == _DAV + "sync-token":
                        token = (element.text or "").strip()
                        continue
                    read(element)
                    element.clear()  # and the members before it: the parser keeps the tree
                    while element.getprevious() is not None:
                        del element.getparent()[0]
            return token

    def get(self, calendar: RemoteCalendar, ref: RemoteRef, window: Window | None = None) -> RemoteEvent | None:
        """The entry as the server holds it now (one GET), or None when it is gone (404, 410)."""
        response = self._request("Reading an entry", self._absolute(calendar, ref.remote_id), "GET", item=True)
        if response.status in (404, 410):
            return None
        if response.status != 200:
            raise ProviderError(f"Reading an entry: the server answered {response.status}")
        # An unreadable object raises UnreadableEntry with its reason: the engine logs it by name.
        event = read_event(
            response.raw, remote_id=_path(self._absolute(calendar, ref.remote_id)), owner=calendar.mailbox
        )
        if event is None:
            raise ProviderError(f"Reading an entry: {ref.remote_id} holds no readable event")
        event.version = response.headers.get("etag")
        return event

    def find_by_marker(self, calendar: RemoteCalendar, marker: str, window: Window | None = None) -> RemoteEvent | None:
        """The object whose UID is our marker, wherever its start is (one calendar-query REPORT
        with a UID text-match, RFC 4791 7.8.6 "Retrieval of Event by UID"), or None when the
        calendar holds none. Found by UID, not by the name we PUT it under: a server may store an
        object elsewhere (RFC 4791 5.3.2 lets it answer a PUT with another location)."""
        body = _by_uid_body(marker)
        headers = {"Depth": "1", "Content-Type": 'application/xml; charset="utf-8"'}
        response = self._request("Finding our entry", calendar.calendar_id, "REPORT", body, headers)
        if response.status != 207 or response.tree is None:
            raise ProviderError(f"Finding our entry: the server answered {response.status}")
        for member in response.tree.iter(_DAV + "response"):
            href = (member.findtext(_DAV + "href") or "").strip()
            etag, data = None, None
            for propstat in member.iter(_DAV + "propstat"):
                if _ok(propstat.findtext(_DAV + "status")):
                    etag = propstat.findtext(f"{_DAV}prop/{_DAV}getetag") or etag
                    data = propstat.findtext(f"{_DAV}prop/{_CALDAV}calendar-data") or data
            if href and data:
                remote_id = _member_path(calendar.calendar_id, href)
                # With `owner`, as `get` and the listing read it: the same object reads the same (review 17).
                return read_event(data, remote_id=remote_id, version=etag, owner=calendar.mailbox)
        return None

    # --- writing ------------------------------------------------------------------------------

    def _entry_url(self, calendar: RemoteCalendar, marker: str) -> str:
        base = calendar.calendar_id if calendar.calendar_id.endswith("/") else calendar.calendar_id + "/"
        return urljoin(base, quote(marker, safe="") + ".ics")

    def _absolute(self, calendar: RemoteCalendar, remote_id: str) -> str:
        return urljoin(calendar.calendar_id, remote_id)

    def holds(self, calendar: RemoteCalendar, remote_id: str) -> bool:
        """Can `remote_id` (an entry's path, as stored on its link) name an entry of `calendar`? An
        entry of a calendar collection is one of its members (RFC 4791 4.2: calendar object
        resources are its internal members), so its URL lies inside the collection's, on the same
        origin; a path into another collection (the old calendar of a relinked link) cannot."""
        entry, collection = urlsplit(self._absolute(calendar, remote_id)), urlsplit(calendar.calendar_id)
        prefix = collection.path if collection.path.endswith("/") else collection.path + "/"
        return (entry.scheme, entry.netloc) == (collection.scheme, collection.netloc) and unquote(
            entry.path
        ).startswith(unquote(prefix))

    def create(self, calendar: RemoteCalendar, event: RemoteEvent) -> RemoteRef:
        if not event.marker:
            raise ValueError("An entry we create needs our marker as its UID.")
        url = self._entry_url(calendar, event.marker)
        body = from_template(event.raw, event) if event.raw else build_calendar(event)
        headers = {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}
        response = self._request("Creating the entry", url, "PUT", body, headers, item=True, write=True)
        if response.status == 412:
            # A retried create: the first one arrived. Same UID, same place: write our content over it.
            headers.pop("If-None-Match")
            response = self._request("Creating the entry", url, "PUT", body, headers, item=True, write=True)
        self._check_put("Creating the entry", calendar, response)
        return RemoteRef(remote_id=urlsplit(url).path, version=response.headers.get("etag"), raw=body)

    def update(
        self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, *, base: RemoteEvent | None = None
    ) -> RemoteRef:
        """Edit the entry as last read (`base.raw`; read now when missing) and PUT it back with
        If-Match: only the helpdesk-owned properties that differ from it change (see
        `merge_calendar`), everything else the object holds is sent back as it was."""
        url = self._absolute(calendar, ref.remote_id)
        current = base if base is not None and base.raw else None
        if current is None:
            current = self.get(calendar, ref)
            if current is None:
                raise RemoteNotFound("Updating the entry: it is gone from the server.")
            if ref.version and current.version and not _same_etag(ref.version, current.version):
                raise VersionConflict("The entry changed on the server since we last read it.")
        body = merge_calendar(current.raw, event)
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        version = ref.version or current.version
        if version:
            headers["If-Match"] = version
        response = self._request("Updating the entry", url, "PUT", body, headers, item=True, write=True)
        if response.status == 412:
            raise VersionConflict("The entry changed on the server since we last read it.")
        if response.status in (404, 410):
            raise RemoteNotFound("Updating the entry: it is gone from the server.")
        self._check_put("Updating the entry", calendar, response)
        return RemoteRef(remote_id=ref.remote_id, version=response.headers.get("etag"), raw=body)

    def delete(self, calendar: RemoteCalendar, ref: RemoteRef) -> None:
        url = self._absolute(calendar, ref.remote_id)
        headers = {"If-Match": ref.version} if ref.version else {}
        response = self._request("Deleting the entry", url, "DELETE", "", headers, item=True, write=True)
        if response.status in (404, 410):
            return
        if response.status == 412:
            raise VersionConflict("The entry changed on the server since we last read it.")
        self._check_write("Deleting the entry", response)

    def rights(self, calendar: RemoteCalendar) -> CalendarRights:
        """The account's DAV:current-user-privilege-set on the calendar collection (RFC 3744 5.4), in
        one PROPFIND of depth 0: readable with DAV:read, writable with DAV:write (RFC 3744 3.2: it
        holds write-content, bind and unbind) or those three alone (the helpdesk changes, creates and
        deletes entries: 3.3, 3.9, 3.10), or DAV:all (3.12). A calendar shared "edit existing only"
        (write-content without bind) refuses every new entry: not writable (review 8 L2). A
        collection the server refuses (403) or no longer has (404) is neither."""
        body = (
            '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
            "<D:current-user-privilege-set/></D:prop></D:propfind>"
        )
        headers = {"Depth": "0", "Content-Type": 'application/xml; charset="utf-8"'}
        fix = (
            f"give the account {self.username!r} read and write rights on this calendar on the CalDAV server "
            "(or share it with the account with write access)"
        )
        try:
            response = self._request("Reading the calendar's rights", calendar.calendar_id, "PROPFIND", body, headers)
        except (ConnectionProblem, RemoteNotFound) as error:
            return CalendarRights(read=False, write=False, source=f"the calendar itself is refused: {error}", fix=fix)
        if response.status in (403, 404) or response.tree is None:
            return CalendarRights(read=False, write=False, source=f"PROPFIND answered {response.status}", fix=fix)
        held = {
            element.tag.split("}")[-1]
            for found in response.tree.iter(_DAV + "current-user-privilege-set")
            for privilege in found.iter(_DAV + "privilege")
            for element in privilege
        }
        if not held:  # a server that does not report the property: nothing known, nothing judged
            return CalendarRights(read=True, write=True, source="no DAV:current-user-privilege-set", fix=fix)
        shown = ", ".join(sorted(held))
        return CalendarRights(
            read=bool(held & {"read", "all"}),
            write=bool(held & {"write", "all"}) or {"write-content", "bind", "unbind"} <= held,
            source=f"its DAV:current-user-privilege-set holds {shown}",
            fix=fix,
        )

    def _check_put(self, what: str, calendar: RemoteCalendar, response) -> None:
        """A PUT of one entry answered: as `_check_write`, but a 409 Conflict is read first. RFC 4918
        9.7.1: a PUT whose parent collection is missing answers 409 (Radicale does), so the server
        is asked about the calendar itself (one PROPFIND, depth 0): when it is not there, the
        ConnectionProblem says so with its URL, as the listing's 404 does, and the calendar is
        failing with that reason instead of each entry retrying a conflict (trial L-409). Another
        409 (RFC 4791 5.3.2 CALDAV:no-uid-conflict: our UID is on another object) names its
        precondition. Raises ConnectionProblem or ProviderError."""
        if response.status == 409:
            url = calendar.calendar_id
            found = self._request("Looking for the calendar", url, "PROPFIND", "", {"Depth": "0"})
            if found.status in (404, 410):
                raise ConnectionProblem(
                    f"{what}: there is no calendar at {url} (the server answered 409 Conflict to the entry "
                    f"and {found.status} to the calendar). Check the connection's server address, or link "
                    "the technician's calendar again."
                )
            conditions = ", ".join(sorted(dav_error.parse_preconditions(response.raw) or [])) or "none named"
            raise ProviderError(f"{what}: the server answered 409 Conflict (precondition: {conditions})")
        self._check_write(what, response)

    @staticmethod
    def _check_write(what: str, response) -> None:
        if response.status not in (200, 201, 204):
            raise ProviderError(f"{what}: the server answered {response.status} {response.reason}")


# --- iCalendar <-> RemoteEvent ------------------------------------------------------------------


def _refused(what: str, username: str, reason: str, *, write: bool) -> EntryRefused:
    """The refusal of one calendar object (HTTP 403), in words for the sync log."""
    if write:
        return EntryRefused(
            f"{what}: the CalDAV server would not take the helpdesk's change to this entry for the account "
            f"{username!r} ({reason}): the entry stays as it is there and the helpdesk keeps its own version.",
            write=True,
        )
    return EntryRefused(
        f"{what}: the CalDAV server refused to show this entry to the account {username!r} ({reason}).", write=False
    )


def _refused_status(member) -> bool:
    """Whether a DAV:response of a multistatus refuses its member: its status, or the status of its
    calendar data's propstat, is 403 (RFC 4918 13, 9.1)."""
    statuses = [member.findtext(_DAV + "status") or ""]
    statuses += [
        propstat.findtext(_DAV + "status") or ""
        for propstat in member.iter(_DAV + "propstat")
        if propstat.find(f"{_DAV}prop/{_CALDAV}calendar-data") is not None
    ]
    return any(" 403 " in f" {status.strip()} " for status in statuses)


def _taken(tree, tag: str) -> Iterator:
    """The elements `tag` of `tree` in document order, each taken out of the tree when the caller
    asks for the next one, so that lxml frees it. (Members of a multistatus do not nest: the next
    is always the first one left.)"""
    while (member := next(tree.iter(tag), None)) is not None:
        yield member
        parent = member.getparent()
        if parent is None:
            return  # the tree is that one member
        parent.remove(member)


def _path(url) -> str:
    return urlsplit(str(url)).path


def _member_path(base: str, href: str) -> str:
    """The path of a listed member's href resolved on the calendar's URL (RFC 4918 8.3: servers
    send an absolute path, or a full URL). An absolute path with nothing to resolve (no dot
    segment, query or fragment) is its own path: parsing thousands of them costs a tenth of a
    listing."""
    if href.startswith("/") and not href.startswith("//") and "/." not in href and "?" not in href and "#" not in href:
        return href
    return _path(urljoin(base, href))


def _etag(obj) -> str | None:
    props = getattr(obj, "props", None) or {}
    for key, value in props.items():
        if str(key).endswith("getetag") and value:
            return str(value)
    return getattr(obj, "etag", None) or None


def _zone(name: str) -> zoneinfo.ZoneInfo:
    return times.zone_or(name, zoneinfo.ZoneInfo("UTC"))


def _entry_zone(event: RemoteEvent) -> tzinfo:
    """The zone an entry's times are written on: a series' own VTIMEZONE when no IANA zone matches
    it (`RemoteEvent.zone_block`; icalendar then writes the block's TZID), else `time_zone`'s."""
    if event.zone_block:
        return zone_from_block(event.zone_block)
    return _zone(event.time_zone)


def _out(value: datetime | date, zone: tzinfo, dtstart: datetime | date) -> datetime | date:
    """A value naming an instance of a series (EXDATE, RDATE, RECURRENCE-ID) as written
    (`times.outgoing_instance`): dates as DATE, instants on the entry's zone's wall clock with its
    TZID, in DTSTART's form when it names DTSTART (`dtstart`, the series' start), else in UTC when
    that wall clock is the second of two (RFC 5545 3.3.5 reads it as the first)."""
    return times.outgoing_instance(value, zone, dtstart=dtstart)


def build_calendar(event: RemoteEvent) -> str:
    """The iCalendar object of an entry: a VEVENT, plus one per edited occurrence of a series.

    No ORGANIZER and no ATTENDEE: servers send invitations for those, and we never invite.
    """
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    zone = _entry_zone(event)
    stamp = datetime.now(UTC)
    master = _vevent(
        event.marker, stamp, event.start, event.end, event.subject, event.body, event.location, zone, bool(event.rrules)
    )
    master.add("class", "PRIVATE" if event.private else "PUBLIC")
    master.add("transp", "OPAQUE" if event.busy else "TRANSPARENT")
    for rule in event.rrules:
        master.add("rrule", icalendar.vRecur.from_ical(rule))
    for exdate in event.exdates:
        master.add("exdate", _out(exdate, zone, event.start))
    for rdate in event.rdates:
        master.add("rdate", _out(rdate, zone, event.start))
    _add_alarm(master, event.reminder_minutes)
    cal.add_component(master)
    for occurrence in event.overrides:
        cal.add_component(_override_vevent(event.marker, stamp, event, occurrence, zone))
    if event.zone_block:
        # The series' own block, as its organiser wrote it (RFC 5545 3.6.5): no IANA zone has it.
        cal.add_component(icalendar.Timezone.from_ical(event.zone_block))
    elif zone.key != "UTC":
        add_missing_vtimezones(cal, *entry_span(cal, today=stamp.date()))
    return cal.to_ical().decode()


def from_template(template: str, event: RemoteEvent) -> str:
    """The object of a new entry made from another one's text (`template`: the entry of the series
    a "this and following" split ended, `RemoteEvent.raw` on a create): its master VEVENT under our
    UID, its occurrence VEVENTs left out (they are the old series' own), then `merge_calendar`, so
    what the helpdesk owns is written and the rest (X- properties, CATEGORIES, the organiser's
    VTIMEZONE, the user's alarms) stays, as Outlook and Google keep it on both halves of a split;
    but never ORGANIZER or ATTENDEE (invitations, as `build_calendar`).
    A template that holds no readable event gives `build_calendar(event)`."""
    try:
        with own_zones():
            cal = icalendar.Calendar.from_ical(template)
    except ValueError:
        return build_calendar(event)
    vevents = list(cal.walk("VEVENT"))
    master = next((v for v in vevents if v.get("recurrence-id") is None), None)
    if master is None:
        return build_calendar(event)
    for vevent in vevents:
        if vevent is not master:
            cal.subcomponents.remove(vevent)
    _replace(master, "uid", event.marker)
    # A create with ORGANIZER/ATTENDEE is a new meeting: a server with implicit scheduling (RFC 6638
    # 3.2) would send its attendees invitations from the helpdesk, which never invites (Graph's
    # split refuses attendees the same way). The old half, only updated, keeps them.
    for name in ("ORGANIZER", "ATTENDEE"):
        master.pop(name, None)
    try:
        return merge_calendar(cal.to_ical().decode(), event)
    except ProviderError:
        return build_calendar(event)


def _override_vevent(uid, stamp, event: RemoteEvent, occurrence: RemoteOccurrence, zone) -> icalendar.Event:
    """The VEVENT of one moved or edited occurrence (RECURRENCE-ID: its original start); what it
    does not set itself comes from the series."""
    child = _vevent(
        uid,
        stamp,
        occurrence.start,
        occurrence.end,
        event.subject if occurrence.subject is None else occurrence.subject,
        event.body if occurrence.body is None else occurrence.body,
        event.location if occurrence.location is None else occurrence.location,
        zone,
    )
    child.add("recurrence-id", _out(occurrence.original_start, zone, event.start))
    child.add("class", "PRIVATE" if event.private or occurrence.private else "PUBLIC")
    child.add("transp", "OPAQUE" if event.busy else "TRANSPARENT")
    _add_alarm(child, event.reminder_minutes)
    return child


def _vevent(uid, stamp, start, end, subject, body, location, zone, repeats=False) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", uid)
    vevent.add("dtstamp", stamp)
    first, last = times.outgoing_span(start, end, zone, repeats=repeats)
    vevent.add("dtstart", first)
    vevent.add("dtend", last)
    vevent.add("summary", subject or "")
    if body:
        vevent.add("description", body)
    if location:
        vevent.add("location", location)
    return vevent


def _add_alarm(vevent: icalendar.Event, minutes: int | None) -> None:
    if minutes is None:
        return
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", "Reminder")
    alarm.add("trigger", timedelta(minutes=-minutes))
    alarm.add(OWN_ALARM, "TRUE")  # ours to replace; the user's own alarms are never touched
    vevent.add_component(alarm)


def _same_etag(a: str, b: str) -> bool:
    """ETags compared as RFC 9110 8.8.3.2's weak comparison: W/ and quotes aside."""

    def bare(tag: str) -> str:
        tag = tag.strip()
        return (tag[2:] if tag.startswith("W/") else tag).strip('"')

    return bare(a) == bare(b)


def _key(value: datetime | date, zone: zoneinfo.ZoneInfo) -> datetime | date:
    """A start to match occurrences by: an instant in UTC (a floating time on `zone`'s wall clock), or a date."""
    if not isinstance(value, datetime):
        return value
    return (times.on_wall_clock(value, zone) if value.tzinfo is None else value).astimezone(UTC)


def _replace(component, name: str, value) -> None:
    component.pop(name, None)
    if value is not None:
        component.add(name, value)


def _set_text(component, name: str, old: str | None, new: str | None, *, keep_empty: bool = False) -> None:
    if same_text(old, new):
        return
    _replace(component, name, new if (new or keep_empty) else None)


def _set_times(component, start, end, zone, repeats=False) -> None:
    first, last = times.outgoing_span(start, end, zone, repeats=repeats)
    _replace(component, "dtstart", first)
    component.pop("duration", None)
    _replace(component, "dtend", last)


def _own_alarms(component, minutes: int | None) -> None:
    """Replace our own alarm (marked OWN_ALARM); add one only to an entry without any alarm."""
    alarms = [c for c in component.subcomponents if c.name == "VALARM"]
    marked = {id(a): _minutes_of(component, a) for a in alarms if a.get(OWN_ALARM) is not None}
    # Ours edited on the phone to fire after the start or at a time of its own is the user's now.
    ours = [a for a in alarms if id(a) in marked and marked[id(a)] is not _NO_MINUTES]
    if len(ours) == 1 and minutes is not None and marked[id(ours[0])] == minutes:
        return  # fires when the helpdesk's reminder says (RELATED=END as the phone wrote it too)
    if not ours and (alarms or minutes is None):
        return
    component.subcomponents = [c for c in component.subcomponents if not any(c is a for a in ours)]
    _add_alarm(component, minutes)


_NO_MINUTES = object()  # an alarm that no "minutes before the start" says (`_minutes_of`)


def _minutes_of(component, alarm):
    """Whole minutes before the start of `component` (a VEVENT) at which `alarm` fires
    (`_alarm_minutes`), _NO_MINUTES when none say it, None when it cannot be read (no start, a
    broken TRIGGER: ours as marked, replaced)."""
    try:
        start = component.decoded("dtstart")
        trigger = alarm.TRIGGER
        related = alarm.TRIGGER_RELATED or "START"
    except (KeyError, ValueError, TypeError):
        return None
    repeats = component.get("rrule") is not None
    minutes = _alarm_minutes(trigger, related, start, _end_of(component, start), repeats=repeats)
    return _NO_MINUTES if minutes is None else minutes


def merge_calendar(raw: str, event: RemoteEvent) -> str:
    """The iCalendar object `raw` (as the server holds it) with the helpdesk-owned properties of
    `event` written where they differ from it, everything else kept as it was.

    Owned (RFC 5545 names): DTSTART/DTEND (DURATION dropped when the time is set), SUMMARY,
    DESCRIPTION, LOCATION, CLASS, TRANSP, RRULE/RDATE/EXDATE and the override VEVENTs, and our own
    VALARM. Kept: PRODID, CATEGORIES, ATTENDEE/ORGANIZER, X- properties, the user's alarms, the
    VTIMEZONEs. DTSTAMP and LAST-MODIFIED say when we wrote; SEQUENCE goes up when the time or the
    recurrence changed (RFC 5545 3.8.7.4). Nothing here adds an ORGANIZER or ATTENDEE.
    """
    from integrations.sync.limits import EntryTooLarge, bound_event

    _check_zone_rules(raw if isinstance(raw, str) else raw.decode())  # before icalendar expands its zones
    with own_zones():  # its TZIDs name its own VTIMEZONEs (calendars.ical_zones)
        cal = icalendar.Calendar.from_ical(raw)
    current = parse_event(raw, remote_id="")
    vevents = list(cal.walk("VEVENT"))
    if current is None or not vevents:
        raise ProviderError("The entry on the server holds no readable event to update.")
    # Compared in the form the helpdesk stores (a cut text, a bounded series): what the helpdesk
    # only holds bounded is not written back over the whole of it.
    with contextlib.suppress(EntryTooLarge):
        bound_event(current)
    master = next((v for v in vevents if v.get("recurrence-id") is None), vevents[0])
    # The entry's own zone (the technician's for a single entry): floating times a client wrote are
    # read on it, so a time the helpdesk did not change is never rewritten in another form. A series
    # on its own VTIMEZONE writes on it, under its TZID: the object still holds that block.
    zone = _entry_zone(event)
    if event.rrules and current.rrules:
        # A series keeps its DTSTART's own TZID and VTIMEZONE while the helpdesk keeps its clock:
        # its overrides' RECURRENCE-ID and DTSTART, EXDATEs and RDATEs go out in the same form.
        zone = _series_own_zone(master, zone) or zone
    significant = False
    same_time = times.same_value(current.start, event.start, zone) and times.same_value(current.end, event.end, zone)
    if not same_time or current.all_day != event.all_day:
        single = not (event.rrules or current.rrules or event.all_day)
        form = _value_form(master) if single else None
        own = _own_zone(master, current) if form == "zoned" else None
        if form == "utc":  # RFC 5545 3.3.5 form 2, as a booking tool wrote it (trial L-UTC)
            _set_times(master, event.start, event.end, UTC)
        elif form == "floating":  # form 1: still on the wall clock it was read on, no TZID
            _set_floating_times(master, event.start, event.end, zone)
        elif own is not None:  # a single entry keeps its own zone, as a series keeps its time_zone (trial F4)
            _set_times(master, event.start, event.end, own[0])
            _keep_tzid(master, own[1])
        elif form == "zoned" and _is_unmatched_zone(master.decoded("dtstart")):
            # Its own VTIMEZONE, which no IANA zone matches: written on that block, under its TZID.
            _set_times(master, event.start, event.end, master.decoded("dtstart").tzinfo)
        else:
            _set_times(master, event.start, event.end, zone, bool(event.rrules))
        significant = True
    _set_text(master, "summary", current.subject, event.subject, keep_empty=True)
    _set_text(master, "description", current.body, event.body)
    _set_text(master, "location", current.location, event.location)
    if current.private != event.private:
        _replace(master, "class", "PRIVATE" if event.private else "PUBLIC")
    if current.busy != event.busy:
        _replace(master, "transp", "OPAQUE" if event.busy else "TRANSPARENT")
    # Both read from the DTSTART written now: a rule that only repeats its own DTSTART's weekday
    # (BYDAY=WE from a Wednesday) is not the same series once DTSTART moves to a Thursday.
    rules_now = sorted(rrule_key(r, event.time_zone, event.start) for r in current.rrules)
    rdates_now = sorted(str(_key(d, zone)) for d in current.rdates)
    if rules_now != sorted(rrule_key(r, event.time_zone, event.start) for r in event.rrules) or rdates_now != sorted(
        str(_key(d, zone)) for d in event.rdates
    ):
        master.pop("rrule", None)
        master.pop("rdate", None)
        for rule in event.rrules:
            master.add("rrule", icalendar.vRecur.from_ical(rule))
        for rdate in event.rdates:
            master.add("rdate", _out(rdate, zone, event.start))
        significant = True
    if _exceptions_differ(current, event, zone):
        _merge_exceptions(cal, master, event, zone)
        significant = True
    for vevent in cal.walk("VEVENT"):
        _own_alarms(vevent, event.reminder_minutes)
    now = datetime.now(UTC).replace(microsecond=0)
    for vevent in cal.walk("VEVENT"):
        _replace(vevent, "dtstamp", now)
        _replace(vevent, "last-modified", now)
        if significant:
            _replace(vevent, "sequence", int(vevent.get("sequence", 0)) + 1)
    # RFC 5545 3.2.19: every TZID written has its VTIMEZONE (trial F3: a single entry too, else the
    # server invents one, Radicale a wrong one). The entry's own VTIMEZONEs stay; only a zone it
    # lacks is added, and none for a name no zone table holds (Outlook's Windows names).
    named = {str(block.get("tzid", "")).strip("/") for block in cal.walk("VTIMEZONE")}
    if event.zone_block and block_tzid(event.zone_block) not in named:
        cal.subcomponents.insert(0, icalendar.Timezone.from_ical(event.zone_block))
    add_missing_vtimezones(cal, *entry_span(cal, today=now.date()))
    return cal.to_ical().decode()


def _own_zone(master, current: RemoteEvent) -> tuple[zoneinfo.ZoneInfo, str] | None:
    """The zone a single entry's DTSTART is written in, when it is one of its own (a TZID naming an
    IANA zone, a Windows id, or its own VTIMEZONE's name that ends in one): (the zone, the TZID as
    written, or the zone's canonical name for a deprecated tz alias such as "US/Eastern"). None for
    UTC, floating times, dates and blocks no IANA zone matches (`_value_form`)."""
    tzid = master.get("dtstart").params.get("TZID") if master.get("dtstart") is not None else None
    if not tzid or not isinstance(current.start, datetime) or current.time_zone in ("", "UTC"):
        return None
    zone = times.zone_or(current.time_zone, None)
    if zone is None:
        return None
    return zone, zone.key if times.canonical_zone_name(str(tzid)) != str(tzid) else str(tzid)


def _value_form(master) -> str | None:
    """The form of the VEVENT's DTSTART (RFC 5545 3.3.5): "utc" (form 2, "...Z"), "floating"
    (form 1, no TZID), "zoned" (form 3, a TZID); None for a date or no DTSTART."""
    prop = master.get("dtstart")
    value = getattr(prop, "dt", None)
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return "floating" if "TZID" not in prop.params else "zoned"  # an unknown TZID left floating
    if "TZID" not in prop.params and value.utcoffset() == timedelta(0):
        return "utc"
    return "zoned"


def _set_floating_times(component, start: datetime, end: datetime, zone: tzinfo) -> None:
    """DTSTART and DTEND as floating times on `zone`'s wall clock (the clock a floating time is
    read on: the technician's), unless one is the second of a repeated hour, which RFC 5545 3.3.5
    reads as the first: that span goes out as `_set_times` writes it (in UTC)."""
    first, last = times.outgoing_span(start, end, zone)
    if UTC in (getattr(first, "tzinfo", None), getattr(last, "tzinfo", None)):
        _set_times(component, start, end, zone)
        return
    _replace(component, "dtstart", first.replace(tzinfo=None))
    component.pop("duration", None)
    _replace(component, "dtend", last.replace(tzinfo=None))


def _series_own_zone(master, zone: tzinfo) -> tzinfo | None:
    """The zone of a series master's DTSTART as the object names it (its TZID and VTIMEZONE, an
    Outlook "Customized Time Zone" among them) when it is the clock the helpdesk keeps (`zone`):
    the same IANA zone, or a block with the same rules. None when the helpdesk changed the zone,
    for UTC, floating times and dates, and for a TZID that is a deprecated tz alias ("US/Eastern"),
    which is never written again (the canonical name is)."""
    prop = master.get("dtstart")
    value = getattr(prop, "dt", None)
    tzid = prop.params.get("TZID") if prop is not None else None
    if not tzid or not isinstance(value, datetime) or value.tzinfo is None:
        return None
    if times.canonical_zone_name(str(tzid)) != str(tzid):
        return None
    if not isinstance(zone, zoneinfo.ZoneInfo) or zone.key == "UTC":
        return None  # a block no IANA zone matches: `_entry_zone` already writes on it (`zone_block`)
    # The same clock: `zone_of` answers `prefer` only when its offsets are the block's.
    return value.tzinfo if times.zone_of(value, prefer=zone) is zone else None


def _keep_tzid(component, tzid: str) -> None:
    """DTSTART and DTEND written on the entry's own zone keep its TZID as the client wrote it
    ("Pacific Standard Time", not "America/Los_Angeles"): the wall clock is the same, and a reader
    that knows the name (Outlook) keeps the entry as its organiser's."""
    for name in ("dtstart", "dtend"):
        value = component.get(name)
        if value is not None and "TZID" in value.params:
            value.params["TZID"] = tzid


def _day_key(value: datetime | date, zone: zoneinfo.ZoneInfo, all_day: bool) -> datetime | date:
    """An exception's key: on an all-day series a DATE-TIME names its day (RFC 5545 lets clients
    write either: the day it is written on), elsewhere `_key`."""
    if all_day and isinstance(value, datetime):
        return value.date()
    return _key(value, zone)


def _exceptions_differ(current: RemoteEvent, event: RemoteEvent, zone: zoneinfo.ZoneInfo) -> bool:
    theirs_cancelled = sorted(str(_day_key(d, zone, current.all_day)) for d in current.exdates)
    if theirs_cancelled != sorted(str(_day_key(d, zone, event.all_day)) for d in event.exdates):
        return True
    mine = {_key(o.original_start, zone): o for o in event.overrides}
    theirs = {_key(o.original_start, zone): o for o in current.overrides}
    if set(mine) != set(theirs):
        return True
    return any(_override_differs(theirs[key], wanted, event, zone) for key, wanted in mine.items())


def _override_differs(have: RemoteOccurrence, wanted: RemoteOccurrence, event: RemoteEvent, zone) -> bool:
    """Whether the occurrence `have` shows other times or texts than `wanted` (a text None: the series')."""
    if (_key(have.start, zone), _key(have.end, zone)) != (_key(wanted.start, zone), _key(wanted.end, zone)):
        return True
    for name, fallback in (("subject", event.subject), ("body", event.body), ("location", event.location)):
        want = getattr(wanted, name)
        if not same_text(getattr(have, name), fallback if want is None else want):
            return True
    return False


def _merge_exceptions(cal, master, event: RemoteEvent, zone) -> None:
    """Override VEVENTs and EXDATEs as `event` has them; an override still wanted is edited in
    place (its other properties kept), a cancelled-occurrence VEVENT still cancelled is kept."""
    wanted = {_key(o.original_start, zone): o for o in event.overrides}
    exdates = {_key(d, zone) for d in event.exdates}
    kept_cancelled = set()
    governing = False
    for child in [c for c in cal.walk("VEVENT") if c is not master]:
        key = _key(_moment(child.decoded("recurrence-id")), zone)
        if str(child.get("status", "")).upper() == "CANCELLED" and key in exdates:
            kept_cancelled.add(key)
            continue
        override = wanted.pop(key, None)
        if override is None:
            cal.subcomponents.remove(child)
            continue
        governing |= str(child["recurrence-id"].params.get("RANGE", "")).upper() == "THISANDFUTURE"
        if not _same_times(child, override, zone):  # a text edit leaves the times in the form the client wrote
            _set_times(child, override.start, override.end, zone)
        subject = event.subject if override.subject is None else override.subject
        _replace(child, "summary", subject or "")
        body = event.body if override.body is None else override.body
        _set_text(child, "description", str(child.get("description", "")), body)
        location = event.location if override.location is None else override.location
        _set_text(child, "location", str(child.get("location", "")), location)
    if governing:
        # A RANGE=THISANDFUTURE override kept above gives its later occurrences (RFC 5545 3.8.4.4):
        # those it already gives as wanted need no VEVENT of their own.
        given = parse_event(cal.to_ical().decode(), remote_id="")
        implied = {_key(o.original_start, zone): o for o in (given.overrides if given else [])}
        for key in [k for k, o in wanted.items() if k in implied and not _override_differs(implied[k], o, event, zone)]:
            del wanted[key]
    for override in wanted.values():
        cal.add_component(_override_vevent(str(master.get("uid")), datetime.now(UTC), event, override, zone))
    master.pop("exdate", None)
    cancelled = (d for d in event.exdates if _key(d, zone) not in kept_cancelled)
    for exdate in sorted(cancelled, key=lambda d: str(_key(d, zone))):
        master.add("exdate", _out(exdate, zone, event.start))


def _same_times(child, override: RemoteOccurrence, zone) -> bool:
    """Whether the override VEVENT `child` already has `override`'s start and end (DTEND, or DURATION)."""
    try:
        start = _moment(child.decoded("dtstart"))
        end = _moment(child.decoded("dtend")) if "dtend" in child else start + child.decoded("duration")
    except (KeyError, TypeError, ValueError):
        return False
    return (_key(start, zone), _key(end, zone)) == (_key(override.start, zone), _key(override.end, zone))


def _moment(value) -> datetime | date:
    """A DATE / DATE-TIME as the helpdesk keeps it (calendars.times): dates stay dates, zoned
    times go to their IANA zone (Windows names and custom VTIMEZONE blocks included), floating
    times stay naive: they are on the technician's wall clock, which the inbound side knows."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value
    return times.incoming(value, floating=zoneinfo.ZoneInfo("UTC"))


def _dates(component, name: str, series_zone: str) -> list:
    """The EXDATE or RDATE (`name`) values of a VEVENT as `_line_value` keeps them."""
    values = component.get(name)
    if values is None:
        return []
    out = []
    for item in values if isinstance(values, list) else [values]:
        tzid = item.params.get("TZID") if hasattr(item, "params") else None
        for dt in getattr(item, "dts", [item]):
            out.append(_line_value(dt.dt, tzid, series_zone))
    return out


def _line_value(value, tzid: str | None, series_zone: str):
    """An EXDATE or RDATE value as the helpdesk keeps it (`_moment`), except a date-time whose TZID
    icalendar could not resolve (it leaves it floating): that one is read on the series' zone
    (`zones.on_series_zone`, RFC 5545 3.8.5.1), as Google reads it. `series_zone`: `_zone_name` of
    the series' DTSTART."""
    if tzid and _is_floating(value):
        return on_series_zone(value, series_zone)
    return _moment(value)


def _zone_name(value) -> str:
    """The IANA zone a series repeats in; "" for dates and floating times (the technician's)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        zone = times.zone_of(value)
        return zone.key if zone is not None else "UTC"
    return ""


def _declined(master, owner: str | None) -> bool:
    """Did `owner` (the calendar's mailbox) decline this entry? An ATTENDEE of the series' own
    VEVENT (not an occurrence's) naming the owner with PARTSTAT=DECLINED (RFC 5545 3.2.12 and
    3.8.4.1; a phone keeps a declined invitation, RFC 5546 3.2.3). Read on the component the
    entry's reading already parsed, for a listing and a single read alike."""
    if not owner or "RECURRENCE-ID" in master:
        return False
    wanted = owner.strip().lower()
    attendees = master.get("ATTENDEE", [])
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        address = str(attendee).strip().lower().removeprefix("mailto:")
        if address == wanted and str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED":
            return True
    return False


def parse_event(
    text: str | bytes, *, remote_id: str, version: str | None = None, zones_read: set[str] | None = None
) -> RemoteEvent | None:
    """The RemoteEvent in an iCalendar object (RFC 5545); None for one that holds no event (a
    task, garbage) or one the helpdesk cannot read (`read_event`'s UnreadableEntry, logged with its
    reason). The text is untrusted: long text is cut to size. `zones_read`: see `read_event`."""
    try:
        return read_event(text, remote_id=remote_id, version=version, zones_read=zones_read)
    except UnreadableEntry as error:
        logger.warning("Unusable event at %s: %s", remote_id, error)
        return None


@reads_untrusted("The CalDAV server")
def read_event(
    text: str | bytes,
    *,
    remote_id: str,
    version: str | None = None,
    zones_read: set[str] | None = None,
    owner: str | None = None,
) -> RemoteEvent | None:
    """As `parse_event`, but an object that cannot be read raises UnreadableEntry saying why
    (malformed iCalendar, bad dates or zones, an unreadable RRULE, values out of range).

    `zones_read` (optional, shared by the entries of one listing): the VTIMEZONE blocks (their
    exact text) already read in this process. A block met again is not parsed again: RFC 4791 4.1
    makes every calendar object carry the zones it uses, so a listing repeats the same blocks in
    every entry. A block is cut only when the zone icalendar built from that exact text is still
    kept (`calendars.ical_zones.zone_of_block`); it is then given to the reading, which resolves
    every TZID from the object's own blocks alone (`own_zones`: the same name in another object is
    another zone, RFC 5545 3.2.19). An object with two blocks under one TZID (3.2.19/3.6.5: a TZID
    is unique in its object) is read whole on its own and none of its blocks is kept. About half of
    a typical entry's lines are its VTIMEZONE. The event's `raw` keeps the whole text.

    `owner` (optional): the calendar's mailbox; `RemoteEvent.declined` says whether it declined the
    entry (`_declined`). A plain entry names no ATTENDEE, so only icalendar's reading can say yes.
    """
    whole = text.decode() if isinstance(text, bytes) else text
    source, blocks, read, known = _bounded(whole), [], [], {}
    if zones_read is not None:
        found = list(_ZONE_BLOCK.finditer(source))  # one pass: the blocks read before are cut by their spans
        blocks = [match.group(0) for match in found]
        if len(blocks) > 1 and _names_twice(blocks):
            # RFC 5545 3.2.19/3.6.5: a TZID is unique in its object. Which block icalendar takes
            # depends on what is cut, so such an object is read whole on its own and none of its
            # blocks is kept: keeping one under the other's zone would misread later valid entries.
            zones_read = None
        elif any(block in zones_read for block in blocks):
            kept, last = [], 0
            for match, block in zip(found, blocks, strict=True):
                # The zone this very text gave before (a TZID means its own block, calendars.ical_zones).
                before = zone_of_block(block) if block in zones_read else None
                if before is None:
                    read.append(block)
                    continue
                if before[1] is not None:
                    known[before[0]] = before[1]
                kept.append(source[last : match.start()])
                last = match.end()
            source = "".join(kept) + source[last:]
        else:
            read = blocks
    # What is left is what icalendar reads; a block read before passed this check then (every line
    # of a block is inside it, wherever it stands), so a listing checks each zone once, not per entry.
    _check_zone_rules(source)
    with own_zones(known) as table:
        event = _read_plain(source, remote_id, version, whole=whole)
        if event is None:
            event = _event_from_calendar(source, remote_id, version, owner, whole=whole)
            if event is None:
                return None
    if zones_read is not None:
        keep_blocks(read, table)
        zones_read.update(blocks)
    event.raw = whole
    return event


def _names_twice(blocks: list[str]) -> bool:
    """Whether two of one object's VTIMEZONE blocks (their text) carry the same TZID."""
    names = [block_tzid(block) for block in blocks]
    return len(set(names)) < len(names)


def _event_from_calendar(
    source: str, remote_id: str, version: str | None, owner: str | None, *, whole: str | None = None
) -> RemoteEvent | None:
    """The entry of an iCalendar object read by icalendar, `declined` by `owner` or not; None when
    it holds no VEVENT. `whole`: the object's whole text when `source` is it with blocks read before
    cut out (`read_event`), where a series' own VTIMEZONE is found (`_series_block`)."""
    cal = icalendar.Calendar.from_ical(source)
    if not isinstance(cal, icalendar.Calendar):
        raise UnreadableEntry("the object is not one VCALENDAR")
    events = [c for c in cal.walk("VEVENT")]
    if not events:
        return None
    for event in events:
        _check_times_read(event)
    masters = [e for e in events if e.get("recurrence-id") is None]
    master = masters[0] if masters else events[0]
    event = _event_from(master, [e for e in events if e is not master], remote_id, version, whole or source)
    event.declined = _declined(master, owner)
    return event


# The plain entry: one VEVENT with these properties at most once each (EXDATE any number of
# times), no parameters but TZID and VALUE on its times, alarms of a few plain properties; a
# series (one RRULE) may have RECURRENCE-ID components of the same shape (no RANGE); no other
# component, and no VTIMEZONE block left to read.
_PLAIN_PROPERTIES = frozenset(
    {"UID", "DTSTAMP", "SUMMARY", "DESCRIPTION", "LOCATION", "DTSTART", "DTEND", "CLASS", "TRANSP"}
    | {"SEQUENCE", "CREATED", "LAST-MODIFIED", "STATUS", "PRIORITY", "RRULE", "RECURRENCE-ID"}
)
_CALENDAR_PROPERTIES = frozenset({"VERSION", "PRODID", "CALSCALE", "METHOD"})
_ALARM_PROPERTIES = frozenset({"ACTION", "DESCRIPTION", "SUMMARY", "TRIGGER", "REPEAT", "DURATION"})
_TRIGGER_PARAMETERS = re.compile(r"(?:;RELATED=(?:START|END)|;VALUE=(?:DURATION|DATE-TIME))*", re.I)
# A TZID with blanks around it goes to icalendar, which strips them (its non-strict parsing).
_TIME_PARAMETERS = re.compile(r"(?:;TZID=[^;:,\"\\\s](?:[^;:,\"\\]*[^;:,\"\\\s])?|;VALUE=DATE(?:-TIME)?)*", re.I)


@dataclass
class _PlainVevent:
    """One VEVENT of a plain entry as written: {name: (parameters, value)}, its EXDATE lines and
    its alarms' TRIGGERs (each as (parameters, value, the alarm's ACTION value))."""

    props: dict = field(default_factory=dict)
    exdates: list = field(default_factory=list)
    triggers: list = field(default_factory=list)


def _plain_vevents(source: str) -> list[_PlainVevent] | None:
    """The VEVENTs of an object of the plain shape (see `_PLAIN_PROPERTIES`), as written; None
    for any other object."""
    if "\n " in source or "\n\t" in source:  # folded lines (RFC 5545 3.1): unfold first
        source = UFOLD.sub("", source)
    lines = [line for line in re.split(r"\r?\n", source) if line]
    if len(lines) < 5 or lines[0].upper() != "BEGIN:VCALENDAR" or lines[-1].upper() != "END:VCALENDAR":
        return None
    vevents: list[_PlainVevent] = []
    vevent: _PlainVevent | None = None
    alarm: dict[str, tuple[str, str]] | None = None
    for line in lines[1:-1]:
        head, colon, value = line.partition(":")
        if not colon or '"' in head or "\\" in head:
            return None
        name, _semicolon, params = head.partition(";")
        name = name.upper()
        if name == "BEGIN":
            kind = value.upper()
            if kind == "VALARM" and vevent is not None and alarm is None:
                alarm = {}
            elif kind != "VEVENT" or vevent is not None:
                return None
            else:
                vevent = _PlainVevent()
        elif name == "END":
            kind = value.upper()
            if kind == "VALARM" and alarm is not None:
                if "TRIGGER" in alarm:
                    vevent.triggers.append((*alarm["TRIGGER"], alarm.get("ACTION", ("", ""))[1]))
                alarm = None
            elif kind != "VEVENT" or vevent is None or alarm is not None:
                return None
            else:
                vevents.append(vevent)
                vevent = None
        elif alarm is not None:
            if name not in _ALARM_PROPERTIES or name in alarm:
                return None
            if params and (name != "TRIGGER" or _TRIGGER_PARAMETERS.fullmatch(";" + params) is None):
                return None
            alarm[name] = (params, value)
        elif vevent is None:
            if name not in _CALENDAR_PROPERTIES:
                return None
        elif name == "EXDATE":
            if (params and _TIME_PARAMETERS.fullmatch(";" + params) is None) or "\\" in value:
                return None
            vevent.exdates.append((params, value))
        elif name not in _PLAIN_PROPERTIES or name in vevent.props or (params and not _plain_parameters(name, params)):
            return None
        elif name in _RECURRENCE and "\\" in value:
            return None  # nothing to unescape in a rule or a time: icalendar says what that is
        else:
            vevent.props[name] = (params, value)
    return vevents if vevents and vevent is None else None


def _read_plain(source: str, remote_id: str, version: str | None, *, whole: str | None = None) -> RemoteEvent | None:
    """The RemoteEvent of a plain entry (`_PLAIN_PROPERTIES`, the shape most entries of a calendar
    have, simple series included), read without building icalendar's component tree; None for
    anything else, which icalendar reads. Values are decoded by icalendar's own value types (TEXT
    unescaping, DATE and DATE-TIME with TZID through its zone provider, RRULE as its vRecur), and
    a series' moved and cancelled occurrences go through the same `_overrides` as icalendar's
    reading, so both ways give the same entry (tests/integrations/test_caldav_plain_read.py
    compares them). Why: icalendar's parser costs about 0.5 ms an entry (2 ms a series), more than
    everything else an import does with it (issue 14). `whole`: as `_event_from_calendar`'s."""
    vevents = _plain_vevents(source)
    if vevents is None:
        return None
    masters = [vevent for vevent in vevents if "RECURRENCE-ID" not in vevent.props]
    if len(masters) != 1:
        return None
    master = masters[0]
    children = [vevent for vevent in vevents if vevent is not master]
    if children and "RRULE" not in master.props:
        return None  # overrides of an entry that does not repeat: icalendar's path says what they are
    try:
        read = [_plain_values(vevent) for vevent in vevents]
    except Exception:  # a bad value, a zone name no file fits (OSError): icalendar's path says what
        return None
    if any(values is None for values in read):
        return None
    raw_start, raw_end, tzid, text, rrules, exdates, (minutes, alarm_kept) = read[vevents.index(master)]
    start, end = _moment(raw_start), _moment(raw_end)
    plain_children = []
    for vevent, values in zip(vevents, read, strict=True):
        if vevent is master:
            continue
        child_start, child_end, _tzid, child_text = values[:4]
        original = _plain_time("RECURRENCE-ID", *vevent.props["RECURRENCE-ID"])[0]
        if child_text.get("STATUS", "").upper() == "CANCELLED":
            plain_children.append(_Child(original, True))
            continue
        texts = {
            "subject": child_text.get("SUMMARY", ""),
            "body": child_text.get("DESCRIPTION", ""),
            "location": child_text.get("LOCATION", ""),
            "private": child_text.get("CLASS", "PUBLIC").upper() in ("PRIVATE", "CONFIDENTIAL"),
        }
        plain_children.append(_Child(original, False, child_start, child_end, texts))
    try:
        overrides = _overrides(_rule_start(raw_start, start), rrules, exdates, plain_children)
    except Exception:
        return None
    klass = text.get("CLASS", "PUBLIC").upper()
    event = RemoteEvent(
        start=start,
        end=end,
        subject=text.get("SUMMARY", ""),
        body=text.get("DESCRIPTION", ""),
        location=text.get("LOCATION", ""),
        all_day=not isinstance(start, datetime),
        private=klass in ("PRIVATE", "CONFIDENTIAL"),
        busy=text.get("TRANSP", "OPAQUE").upper() != "TRANSPARENT",
        reminder_minutes=minutes,
        reminder_kept=alarm_kept,
        time_zone=_zone_name(raw_start),
        rrules=rrules,
        exdates=exdates,
        overrides=overrides,
        marker=text.get("UID", "") or None,
        remote_id=remote_id,
        version=version,
    )
    floating = [
        named
        for params, value in master.exdates
        if (named := _time_parameters(params)[0]) and any(_is_floating(d) for d in _plain_dates(params, value))
    ]
    return _finished(event, raw_start, tzid, floating, whole or source)


def _plain_values(vevent: _PlainVevent) -> tuple | None:
    """One plain VEVENT's values as icalendar decodes them: (start, end, start's TZID, texts by
    name, RRULEs, EXDATEs, its reminder as `_reminder` gives it); None when it lacks a start or an
    end or mixes a DATE with a DATE-TIME. Raises what icalendar's value types raise."""
    props = vevent.props
    text = {name: unescape_backslash(value) for name, (params, value) in props.items() if name not in _NOT_TEXT}
    if "RECURRENCE-ID" in props:
        _plain_time("RECURRENCE-ID", *props["RECURRENCE-ID"])  # read now: a bad one goes to icalendar
    if "DTSTART" not in props or "DTEND" not in props:
        # Only a cancelled occurrence needs no times (icalendar's reading never asks for them).
        cancelled = "RECURRENCE-ID" in props and text.get("STATUS", "").upper() == "CANCELLED"
        if not cancelled or "DTSTART" in props or "DTEND" in props:
            return None
        return None, None, None, text, [], [], (None, False)
    raw_start, tzid = _plain_time("DTSTART", *props["DTSTART"])
    raw_end, _tzid = _plain_time("DTEND", *props["DTEND"])
    if isinstance(raw_start, datetime) != isinstance(raw_end, datetime):
        return None  # a DATE start with a DATE-TIME end: icalendar's path says what that means
    rrules = []
    if "RRULE" in props:
        recur = _TYPES.for_property("RRULE")
        rrules.append(recur(recur.from_ical(props["RRULE"][1])).to_ical().decode())
    series_zone = _zone_name(raw_start)
    exdates = [
        _line_value(value, _time_parameters(params)[0], series_zone)
        for params, value in vevent.exdates
        for value in _plain_dates(params, value)
    ]
    triggers = []
    for params, value, action in vevent.triggers:
        named = {key.upper(): given.upper() for key, _equals, given in (p.partition("=") for p in params.split(";"))}
        trigger = _TYPES.for_property("TRIGGER", named.get("VALUE")).from_ical(value)
        triggers.append((action, trigger, named.get("RELATED", "START")))
    reminder = _reminder(triggers, raw_start, raw_end, repeats=bool(rrules))
    return raw_start, raw_end, tzid, text, rrules, exdates, reminder


def _alarm_minutes(trigger, related: str, start, end, *, repeats: bool) -> int | None:
    """Whole minutes before `start` at which an alarm with `trigger` fires, as the helpdesk keeps a
    reminder; None when no such number says it. RFC 5545 3.8.6.3: a DURATION trigger is measured
    from the start, or from the end with RELATED=END (3.2.14), so it fires at end + trigger; a
    DATE-TIME trigger is one instant, in UTC. None for an alarm after the start, an instant on a
    series (it fires once, not before each occurrence) and an instant against a date or a floating
    time (no instant to measure from). `start`/`end`: the entry's DTSTART and end as read."""
    if isinstance(trigger, timedelta):
        before = (start - end) - trigger if related.upper() == "END" else -trigger
    elif isinstance(trigger, datetime) and not repeats and isinstance(start, datetime):
        if start.tzinfo is None or trigger.tzinfo is None:
            return None
        before = start - trigger
    else:
        return None
    return None if before < timedelta(0) else int(before.total_seconds() // 60)


def _reminder(triggers: list, start, end, *, repeats: bool) -> tuple[int | None, bool]:
    """(minutes before the start, kept) of an entry whose alarms' `triggers` are (ACTION, TRIGGER
    value, RELATED), in the order they are read: the first alarm the helpdesk can say as minutes
    before the start (`_alarm_minutes`). None with kept True when the entry has alarms but none
    says that: the user's own (after the start, at a time of its own), neither "no reminder" nor
    ours to replace. RFC 9074 7: an ACTION:NONE alarm (Apple's default "None") never alerts, so
    it is no alarm at all."""
    kept = False
    for action, trigger, related in triggers:
        if action.upper() == "NONE":
            continue
        minutes = _alarm_minutes(trigger, related or "START", start, end, repeats=repeats)
        if minutes is not None:
            return minutes, False
        kept = True
    return None, kept


def _plain_dates(params: str, value: str) -> list:
    """An EXDATE line's values as icalendar decodes them (a list, each a date or a date-time)."""
    tzid, kind = _time_parameters(params)
    factory = _TYPES.for_property("EXDATE", kind)
    return factory.from_ical(value, tzid) if tzid else factory.from_ical(value)


_RECURRENCE = frozenset({"RRULE", "RECURRENCE-ID"})
_TIMES = ("DTSTART", "DTEND", "RECURRENCE-ID")
_NOT_TEXT = frozenset({*_TIMES, "RRULE"})


def _plain_parameters(name: str, params: str) -> bool:
    return name in _TIMES and _TIME_PARAMETERS.fullmatch(";" + params) is not None


def _time_parameters(params: str) -> tuple[str | None, str | None]:
    """(TZID, VALUE upper-cased) of a time's parameters (`_TIME_PARAMETERS`), None when absent."""
    tzid, kind = None, None
    for param in params.split(";") if params else []:
        key, _equals, given = param.partition("=")
        if key.upper() == "TZID":
            tzid = given
        else:
            kind = given.upper()
    return tzid, kind


def _plain_time(name: str, params: str, value: str) -> tuple[datetime | date, str | None]:
    """A DTSTART, DTEND or RECURRENCE-ID value as icalendar decodes it, and its TZID; UnreadableEntry
    naming the value when it is no date or time that exists (base.no_such_time)."""
    tzid, kind = _time_parameters(params)
    factory = _TYPES.for_property(name, kind)
    try:
        return (factory.from_ical(value, tzid) if tzid else factory.from_ical(value)), tzid
    except ValueError as error:
        raise no_such_time(name, value) from error


def _check_times_read(component) -> None:
    """UnreadableEntry naming the first time (DTSTART, DTEND, RECURRENCE-ID) icalendar could not
    read: it keeps such a value as text (`errors`), which must not become another time (trial 6)."""
    for name, _reason in getattr(component, "errors", ()):
        if name.upper() in _TIMES:
            raise no_such_time(name.upper(), str(component.get(name).to_ical().decode()))


_TYPES = icalendar.Component.types_factory


# icalendar reads a content line a character at a time (seconds for a 5 MB DESCRIPTION), and we keep
# at most MAX_BODY characters of any text: longer lines are cut before parsing (the object as the
# server holds it stays `raw`, for merge updates), and an object still larger is refused.
MAX_LINE = 2 * MAX_BODY  # a TEXT value escapes a character in two at most (RFC 5545 3.3.11)
MAX_OBJECT = 512 * 1024
_FOLD = re.compile(r"\r?\n[ \t]")


_ZONE_EDGE = re.compile(r"^(BEGIN|END):VTIMEZONE\s*$", re.I)
_RULE_FREQ = re.compile(r"^RRULE[;:].*?\bFREQ=([A-Za-z]*)", re.I)


def _check_zone_rules(text: str) -> None:
    """UnreadableEntry for a VTIMEZONE whose observances repeat more often than yearly.

    A zone's STANDARD and DAYLIGHT onsets repeat once a year (RFC 5545 3.6.5 and its examples;
    the tz database has no other kind), and icalendar expands them from their DTSTART (Outlook
    writes 1601) when it reads the block: FREQ=MINUTELY took 26 s, FREQ=SECONDLY ran a worker
    out of memory (found by the long fuzz run). Read on unfolded lines, before icalendar sees the
    text, wherever the block ends."""
    if "VTIMEZONE" not in text.upper():
        return
    depth = 0  # a VTIMEZONE nested in another (a hostile text) is still a zone icalendar reads
    for line in _FOLD.sub("", text).splitlines():
        edge = _ZONE_EDGE.match(line)
        if edge:
            depth = depth + 1 if edge.group(1).upper() == "BEGIN" else max(depth - 1, 0)
            continue
        rule = _RULE_FREQ.match(line) if depth else None
        if rule and rule.group(1).upper() != "YEARLY":
            raise UnreadableEntry(
                f"its time zone repeats its offset changes {rule.group(1).upper() or 'without a frequency'!s} "
                "instead of yearly; fix the zone in the external calendar"
            )
        if rule and _onsets_in_a_year(line.split(":", 1)[1]) > MAX_ZONE_ONSETS_A_YEAR:
            raise UnreadableEntry(
                f"its time zone changes its offset more than {MAX_ZONE_ONSETS_A_YEAR} times a year; fix the zone in "
                "the external calendar"
            )


# A yearly rule can still name every hour of the year (BYHOUR, BYMINUTE lists): real zones change
# offset at most a few times a year (the tz database's most is 4).
MAX_ZONE_ONSETS_A_YEAR = 12


@functools.lru_cache(maxsize=256)  # a calendar's zones repeat the same few rules in every entry
def _onsets_in_a_year(rule: str) -> int:
    """How many onsets a VTIMEZONE observance's RRULE value gives in a year (at most one more than
    the limit is counted; its COUNT and UNTIL left out); 0 for a rule dateutil cannot read or one
    that gives no date (icalendar refuses the first, and the second has no onset to expand)."""
    from dateutil.rrule import rrulestr

    kept = ";".join(p for p in rule.split(";") if p.split("=", 1)[0].strip().upper() not in ("COUNT", "UNTIL"))
    try:
        if not gives_a_date(kept):
            return 0
        starts = rrulestr(kept, dtstart=datetime(2001, 1, 1))
        within = itertools.takewhile(lambda moment: moment.year == 2001, starts)
        return sum(1 for _ in itertools.islice(within, MAX_ZONE_ONSETS_A_YEAR + 1))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        return 0


def _bounded(text: str) -> str:
    """The iCalendar text to parse: unfolded lines (RFC 5545 3.1) longer than MAX_LINE characters
    cut to it; UnreadableEntry when what is left is over MAX_OBJECT characters."""
    if len(text) <= MAX_LINE:
        return text
    lines = [line[:MAX_LINE] for line in _FOLD.sub("", text).splitlines()]
    bounded = "\r\n".join(lines) + "\r\n"
    if len(bounded) > MAX_OBJECT:
        raise UnreadableEntry(
            f"the object holds {len(bounded) // 1024} KiB beyond its long texts; the helpdesk reads at most "
            f"{MAX_OBJECT // 1024} KiB"
        )
    return bounded


def _end_of(component, start):
    if component.get("dtend") is not None:
        return component.decoded("dtend")
    if component.get("duration") is not None:
        duration = component.decoded("duration")
        if isinstance(start, datetime) and start.tzinfo is not None and duration.seconds:
            return times.end_after(start, duration)  # hours and minutes are exact (RFC 5545 3.3.6)
        return start + duration
    return start + timedelta(days=1) if not isinstance(start, datetime) else start


# How far a "this and all following" change is carried into an endless series.
THIS_AND_FUTURE_REACH = timedelta(days=2 * 365)


def _event_from(master, children, remote_id: str, version: str | None, whole: str = "") -> RemoteEvent:
    raw_start = master.decoded("dtstart")
    zone_name = _zone_name(raw_start)
    start = _moment(raw_start)
    end = _moment(_end_of(master, raw_start))
    all_day = not isinstance(start, datetime)
    klass = str(master.get("class", "PUBLIC")).upper()
    rrules = []
    raw_rules = master.get("rrule")
    for rule in raw_rules if isinstance(raw_rules, list) else ([raw_rules] if raw_rules is not None else []):
        rrules.append(rule.to_ical().decode())
    # Our own alarm first (as the user left it: edited in place, it is still the entry's reminder),
    # then the others in their order (plain objects hold no X- property in an alarm).
    alarms = sorted(master.walk("VALARM"), key=lambda alarm: alarm.get(OWN_ALARM) is None)
    triggers = [
        (str(alarm.get("action", "")), alarm.TRIGGER, alarm.TRIGGER_RELATED)
        for alarm in alarms
        if alarm.get("trigger") is not None
    ]
    minutes, alarm_kept = _reminder(triggers, raw_start, _end_of(master, raw_start), repeats=bool(rrules))
    exdates = _dates(master, "exdate", zone_name)
    rdates = [value for value in _dates(master, "rdate", zone_name) if isinstance(value, date)]  # not PERIODs
    overrides = _overrides(_rule_start(raw_start, start), rrules, exdates, [_child_of(child) for child in children])
    event = RemoteEvent(
        start=start,
        end=end,
        subject=str(master.get("summary", "")),
        body=str(master.get("description", "")),
        location=str(master.get("location", "")),
        all_day=all_day,
        private=klass in ("PRIVATE", "CONFIDENTIAL"),
        busy=str(master.get("transp", "OPAQUE")).upper() != "TRANSPARENT",
        reminder_minutes=minutes,
        reminder_kept=alarm_kept,
        time_zone=zone_name,
        rrules=rrules,
        exdates=exdates,
        rdates=rdates,
        overrides=overrides,
        marker=str(master.get("uid", "")) or None,
        remote_id=remote_id,
        version=version,
    )
    tzid = master["dtstart"].params.get("TZID") if isinstance(raw_start, datetime) else None
    floating = []
    for name in ("exdate", "rdate"):
        values = master.get(name)
        for item in values if isinstance(values, list) else ([values] if values is not None else []):
            named = item.params.get("TZID")
            if named and any(_is_floating(d.dt) for d in getattr(item, "dts", ())):
                floating.append(str(named))
    return _finished(event, raw_start, tzid, floating, whole)


_UNMATCHED_SERIES = (
    "as UTC: no IANA zone has the offsets of its VTIMEZONE and its block could not be kept, so the series "
    "repeats on UTC's clock and occurrences after that zone's clock changes are an hour off"
)


def _rule_start(raw_start, start):
    """The DTSTART a series' rule is walked from: `start` as the helpdesk keeps it, but in a zone no
    IANA zone matches (kept in UTC) the time on its own block's zone, whose wall clock the rule
    repeats on (RFC 5545 3.3.10)."""
    return raw_start if _is_unmatched_zone(raw_start) else start


def _series_block(text: str, tzid: str) -> str:
    """The text of the VTIMEZONE block named `tzid` in an object's `text` (the first one, the one
    icalendar reads, calendars.ical_zones), "" when there is none or it is longer than
    ical_zones.MAX_ZONE_BLOCK. Its observances were checked before it was read (`_check_zone_rules`)."""
    wanted = str(tzid).strip("/")
    for match in _ZONE_BLOCK.finditer(text):
        block = match.group(0)
        if block_tzid(block) == wanted:
            return block if len(block) <= MAX_ZONE_BLOCK else ""
    return ""


def _is_unmatched_zone(value) -> bool:
    """Is `value` an aware time in a VTIMEZONE block that no IANA zone matches (`times.zone_of`)?"""
    return isinstance(value, datetime) and value.tzinfo is not None and times.zone_of(value) is None


def _is_floating(value) -> bool:
    return isinstance(value, datetime) and value.tzinfo is None


def _finished(
    event: RemoteEvent, raw_start, tzid: str | None, date_tzids: list[str] = (), whole: str = ""
) -> RemoteEvent:
    """The last steps of both readings (icalendar's and the plain one): a note for a time whose
    zone is unknown (the start's `tzid`; `date_tzids`: EXDATE/RDATE TZIDs icalendar left floating),
    a series' own VTIMEZONE kept (`RemoteEvent.zone_block`, found in `whole`, the object's text)
    when no IANA zone matches it, override texts cut to their columns, then `RemoteEvent.trimmed`."""
    # A date, a floating time, a TZID icalendar left floating or a block no IANA zone matches names
    # no zone: what `time_zone` then holds ("" or "UTC") is a fallback (`RemoteEvent.zone_named`).
    event.zone_named = (
        isinstance(raw_start, datetime) and raw_start.tzinfo is not None and not _is_unmatched_zone(raw_start)
    )
    unknown = [tzid] if tzid and isinstance(raw_start, datetime) and raw_start.tzinfo is None else []
    for name in unknown:
        # icalendar leaves a time whose TZID it cannot resolve (no VTIMEZONE, not an IANA or Windows
        # name) floating: RFC 5545 3.3.5 reads it on the technician's wall clock. Say so.
        event.notes.append(unknown_zone_note(name, "on the technician's wall clock"))
    if tzid and event.rrules and _is_unmatched_zone(raw_start):
        # A series repeats on its zone's wall clock (RFC 5545 3.3.10) and no IANA zone has this
        # block's offsets: the series keeps the block itself, so its later occurrences, cancels and
        # moves follow the block's clock changes. Only a block that cannot be kept leaves it on UTC.
        event.zone_block = _series_block(whole, tzid)
        if not event.zone_block:
            event.notes.append(unknown_zone_note(tzid, _UNMATCHED_SERIES))
    for name in dict.fromkeys(date_tzids):
        if name not in unknown:  # read on the series' zone (`_line_value`)
            event.notes.append(series_zone_note(name, event.time_zone))
    for occurrence in event.overrides:
        occurrence.subject = (occurrence.subject or "")[:255]
        occurrence.location = (occurrence.location or "")[:255]
        occurrence.body = (occurrence.body or "")[:20_000]
    return event.trimmed()


@dataclass
class _Child:
    """One RECURRENCE-ID component of a series as both readings hand it to `_overrides`: its
    recurrence id, and (unless cancelled) its times, texts and RANGE (values as icalendar decodes
    them)."""

    original: datetime | date
    cancelled: bool
    start: datetime | date | None = None
    end: datetime | date | None = None
    texts: dict | None = None
    this_and_future: bool = False


def _child_of(child) -> _Child:
    """An icalendar RECURRENCE-ID component as a `_Child`."""
    original = child.decoded("recurrence-id")
    if str(child.get("status", "")).upper() == "CANCELLED":
        return _Child(original, True)
    texts = {
        "subject": str(child.get("summary", "")),
        "body": str(child.get("description", "")),
        "location": str(child.get("location", "")),
        # RFC 5545 3.8.1.3: CLASS on the override classifies that occurrence alone.
        "private": str(child.get("class", "PUBLIC")).upper() in ("PRIVATE", "CONFIDENTIAL"),
    }
    this_and_future = str(child["recurrence-id"].params.get("RANGE", "")).upper() == "THISANDFUTURE"
    raw_start = child.decoded("dtstart")
    return _Child(original, False, raw_start, _end_of(child, raw_start), texts, this_and_future)


def _overrides(start, rrules: list[str], exdates: list, children: list[_Child]) -> list[RemoteOccurrence]:
    """A series' moved and edited occurrences, in order of their original start; a cancelled
    child (STATUS:CANCELLED) goes to `exdates` (appended)."""
    overrides: dict = {}
    # RFC 5545 3.8.4.4: a RANGE=THISANDFUTURE override applies to every later occurrence, and
    # later overrides apply on top of it: handle them in order of their recurrence id.
    for child in sorted(children, key=lambda c: _sort_key(c.original)):
        original = _moment(child.original)
        if child.cancelled:
            exdates.append(original)
            continue
        child_start, child_end, texts = _moment(child.start), _moment(child.end), child.texts
        overrides[_sort_key(original)] = RemoteOccurrence(original, child_start, child_end, **texts)
        if child.this_and_future and rrules:
            shift, length = _difference(child_start, original), _difference(child_end, child_start)
            cancelled = {_sort_key(value) for value in exdates}
            for following in _following(start, rrules, original):
                if _sort_key(following) in cancelled:
                    continue
                moved = _shifted(following, shift)
                overrides[_sort_key(following)] = RemoteOccurrence(following, moved, _shifted(moved, length), **texts)
    return [overrides[key] for key in sorted(overrides)]


def _sort_key(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return value.isoformat()


def _difference(later, earlier) -> timedelta:
    """Exact time between two values of one kind (dates: whole days)."""
    if isinstance(later, datetime) and isinstance(earlier, datetime):
        if (later.tzinfo is None) != (earlier.tzinfo is None):
            return later.replace(tzinfo=None) - earlier.replace(tzinfo=None)
        return later - earlier if later.tzinfo is None else later.astimezone(UTC) - earlier.astimezone(UTC)
    as_date = [value.date() if isinstance(value, datetime) else value for value in (later, earlier)]
    return as_date[0] - as_date[1]


def _shifted(value, by: timedelta):
    """`value` moved by `by`: on the wall clock for whole days (the time of day is kept across a
    DST change), exactly for the rest."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        days = timedelta(days=by.days)
        return times.end_after(times.on_wall_clock(value.replace(tzinfo=None) + days, value.tzinfo), by - days)
    return value + by


def _following(start, rrules: list[str], original) -> list:
    """The rule's occurrences after `original`, to the series' end or THIS_AND_FUTURE_REACH."""
    try:
        return times.rule_starts(start, rrules, after=original, until=original + THIS_AND_FUTURE_REACH)
    except (ValueError, TypeError) as error:
        logger.warning("Cannot expand a rule for a this-and-following change: %s", error)
        return []


_DAV = "{DAV:}"
_CALDAV = "{urn:ietf:params:xml:ns:caldav}"


def _sync_collection_body(token: str | None, *, with_data: bool = True) -> str:
    """A sync-collection REPORT (RFC 6578 3.2) asking for each member's etag and (`with_data`)
    its calendar data (RFC 4791 9.6)."""
    from xml.sax.saxutils import escape

    data = "<C:calendar-data/>" if with_data else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:sync-token>{escape(token or '')}</D:sync-token>"
        "<D:sync-level>1</D:sync-level>"
        f"<D:prop><D:getetag/>{data}</D:prop>"
        "</D:sync-collection>"
    )


def _by_uid_body(uid: str) -> str:
    """A calendar-query REPORT for the object whose VEVENT has this UID, with its etag and data
    (RFC 4791 7.8.6; i;octet: a UID is compared byte for byte)."""
    from xml.sax.saxutils import escape

    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:prop-filter name="UID"><C:text-match collation="i;octet">{escape(uid)}</C:text-match></C:prop-filter>'
        "</C:comp-filter></C:comp-filter></C:filter>"
        "</C:calendar-query>"
    )


def _ok(status: str | None) -> bool:
    """Is a multistatus status line ("HTTP/1.1 200 OK") a success?"""
    parts = (status or "").split()
    return len(parts) >= 2 and parts[1].startswith("2")


def _in_window(event: RemoteEvent, window: Window) -> bool:
    """Does the entry touch [start, end)? A series counts from its first start to the end of its
    last occurrence (endless: no end), or any of its moved occurrences."""
    if not event.is_recurring:
        return _overlaps(event, window)
    if not _overlaps(event, window):
        return False
    _start, end = span_of(event)
    return end is None or end > window.start


def _overlaps(event: RemoteEvent, window: Window) -> bool:
    """Does the entry touch [start, end)? A series counts from its start on (the server already
    matched its occurrences against the window)."""

    def aware(value):
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)  # floating: near enough here
        return datetime(value.year, value.month, value.day, tzinfo=window.start.tzinfo or UTC)

    if event.is_recurring:
        return aware(event.start) < window.end
    return aware(event.start) < window.end and aware(event.end) > window.start
