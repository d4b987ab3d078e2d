"""The Microsoft Graph provider: msal's client-credentials grant for the app's token, requests for
Graph v1.0, at most 4 requests in flight per mailbox (Graph's mailbox concurrency limit)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import msal
import requests

from ..base import (
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
    TransientError,
    UnreadableEntry,
    VersionConflict,
    Window,
    choose_calendar,
    connection_tested,
    occurrence_texts_to_write,
    own_text_key,
    unreachable_reason,
)
from . import mapping, shared
from .errors import graph_error, sign_in_error

logger = logging.getLogger(__name__)

MAX_PER_MAILBOX = 4  # Graph's Outlook limit: 4 concurrent requests per app and mailbox
MAX_BATCH = 20  # JSON batching: at most 20 requests in one $batch
PREFER = 'IdType="ImmutableId", outlook.timezone="UTC"'
DELTA_PAGE = "odata.maxpagesize=100"  # entries a collection page may hold (Graph's default is 10)
PAGED = {"Prefer": f"{PREFER}, {DELTA_PAGE}"}
# The calendar an event is in (event resource, relationships: calendar), its id alone: `get` checks it.
EXPAND_CALENDAR = "calendar($select=id)"

_apps: dict[tuple, msal.ConfidentialClientApplication] = {}
_shared = threading.Lock()


def _iso(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GraphSettings:
    """A Graph connection: the app registration (tenant, client id, secret), the authority
    (https://login.microsoftonline.com/<tenant>, or a national cloud's) and the Graph base URL
    (https://graph.microsoft.com/v1.0). `ca_bundle`: a CA file to trust instead of the system's."""

    tenant_id: str
    client_id: str
    secret: str
    authority: str = ""
    base_url: str = "https://graph.microsoft.com/v1.0"
    ca_bundle: str = ""
    timeout: float = 30.0
    # Delegated: each technician signed in themselves (authorization code with PKCE); their refresh
    # tokens come from the provider's `grants`. Otherwise the app's own permission (client credentials).
    delegated: bool = False

    @property
    def authority_url(self) -> str:
        return (self.authority or f"https://login.microsoftonline.com/{self.tenant_id}").rstrip("/")

    @property
    def resource(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def scope(self) -> str:
        """The application permission scope: the Graph resource's /.default."""
        return f"{self.resource}/.default"

    @property
    def delegated_scopes(self) -> list[str]:
        """What a technician's own sign-in asks for (msal adds offline_access, openid, profile)."""
        return [f"{self.resource}/Calendars.ReadWrite"]


class GrantStore(Protocol):
    """Where the technicians' refresh tokens live (the ORM, outside the provider)."""

    def refresh_token(self, mailbox: str) -> str | None: ...

    def rotated(self, mailbox: str, refresh_token: str) -> None: ...

    def revoked(self, mailbox: str, message: str) -> None: ...


def authorize_url(
    settings: GraphSettings, *, redirect_uri: str, state: str, code_challenge: str, login_hint: str
) -> str:
    """Where a technician signs in: the v2.0 authorize endpoint of the authority (Microsoft identity
    platform, "authorization code flow"), asking for a code with a PKCE S256 challenge (RFC 7636).
    Built without any network call, so a web request can send the browser there."""
    query = urlencode(
        {
            "client_id": settings.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "scope": " ".join([*settings.delegated_scopes, "offline_access", "openid", "profile"]),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "login_hint": login_hint,
        }
    )
    return f"{settings.authority_url}/oauth2/v2.0/authorize?{query}"


def graph_provider_from_settings(settings: Mapping[str, Any], **options: Any) -> GraphProvider:
    return GraphProvider(GraphSettings(**{k: v for k, v in settings.items() if v not in (None, "")}), **options)


def _undoes_exceptions(event: RemoteEvent, base: RemoteEvent) -> bool:
    """True when `base` has a cancelled occurrence or an exception that `event` no longer has."""
    zone = event.time_zone or "UTC"
    cancelled_before = {mapping._utc(d, zone) for d in base.exdates}
    cancelled_now = {mapping._utc(d, zone) for d in event.exdates}
    moved_now = {row[0] for row in mapping_overrides(event)}
    return bool(cancelled_before - cancelled_now) or any(row[0] not in moved_now for row in mapping_overrides(base))


def mapping_overrides(event: RemoteEvent) -> list[tuple]:
    zone = event.time_zone or "UTC"
    return sorted(
        (
            (
                mapping._utc(o.original_start, zone),
                mapping._utc(o.start, zone),
                mapping._utc(o.end, zone),
                *own_text_key(o, event),
            )
            for o in event.overrides
        ),
        key=repr,
    )


class _SessionWithTimeout(requests.Session):
    """A requests session whose every request has a timeout (seconds): requests waits for ever
    without one, and msal's authority discovery (openid-configuration) passes none, so a sign-in
    service that accepts and never answers held the worker for good."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method, url, *args, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


class GraphProvider:
    """Microsoft 365 calendars over Graph v1.0 with application permission (Calendars.ReadWrite)."""

    max_batch = MAX_BATCH

    def __init__(
        self, settings: GraphSettings, *, session: requests.Session | None = None, grants: GrantStore | None = None
    ) -> None:
        self.settings = settings
        self.grants = grants
        self._user_tokens: dict[str, str] = {}
        self.session = session or _SessionWithTimeout(settings.timeout)
        if settings.ca_bundle:
            # REQUESTS_CA_BUNDLE in the environment would override `verify`.
            self.session.trust_env = False
            self.session.verify = settings.ca_bundle
        self.base = settings.base_url.rstrip("/")
        # The id Graph gives a calendar (`_canonical_id`), by (mailbox, the id in the form we hold).
        self._calendar_ids: dict[tuple[str, str], str] = {}

    # --- sign-in and requests ---

    def _app(self) -> msal.ConfidentialClientApplication:
        s = self.settings
        key = (s.authority_url, s.client_id, s.secret, s.ca_bundle)
        with _shared:
            app = _apps.get(key)
            if app is None:
                app = msal.ConfidentialClientApplication(
                    s.client_id,
                    client_credential=s.secret,
                    authority=s.authority_url,
                    instance_discovery=False,
                    http_client=self.session,
                    timeout=s.timeout,
                    # Filled from and stored to the cache all worker processes share (shared.py).
                    token_cache=msal.SerializableTokenCache(),
                )
                _apps[key] = app
        return app

    def _forget_app(self) -> None:
        s = self.settings
        with _shared:
            _apps.pop((s.authority_url, s.client_id, s.secret, s.ca_bundle), None)
        shared.forget_tokens(self._tokens_key)

    @property
    def _tokens_key(self) -> str:
        """The app's tokens in the shared cache: one app registration at one authority, signing in
        with one secret (a newly entered secret signs in anew, so "test connection" checks it)."""
        s = self.settings
        return hashlib.sha256(f"{s.authority_url}|{s.client_id}|{s.scope}|{s.secret}".encode()).hexdigest()[:40]

    def _token(self) -> str:
        """The app's access token (client credentials), from msal's cache, which the worker
        processes share (shared.shared_tokens), or from the token endpoint."""
        try:
            app = self._app()  # msal reads the authority's openid-configuration here: a network call
            with shared.shared_tokens(
                app.token_cache, self._tokens_key, self.settings.scope, wait=self.settings.timeout
            ):
                answer = app.acquire_token_for_client(scopes=[self.settings.scope])
        except requests.RequestException as error:
            raise ConnectionProblem(
                unreachable_reason(error, self.settings.authority_url)
                or f"Cannot reach the Microsoft sign-in service at {self.settings.authority_url}: {error}"
            ) from error
        except ValueError as error:  # msal: the authority's openid-configuration is unreadable
            raise ConnectionProblem(f"The authority {self.settings.authority_url} is not valid: {error}") from error
        if "access_token" not in answer:
            self._forget_app()
            raise sign_in_error(answer, self.settings.client_id)
        return answer["access_token"]

    def _delegated_token(self, mailbox: str) -> str:
        """An access token from the technician's own refresh token (rotated and stored again);
        ConnectionProblem asking them to reconnect when Microsoft refuses the grant."""
        key = mailbox.lower()
        if key in self._user_tokens:
            return self._user_tokens[key]
        refresh = self.grants.refresh_token(mailbox) if self.grants is not None else None
        if not refresh:
            raise ConnectionProblem(
                f"{mailbox} has not connected their Microsoft 365 calendar yet: they sign in from their calendar "
                "sync page (Connect my Microsoft 365 calendar)."
            )
        try:
            answer = self._app().acquire_token_by_refresh_token(refresh, scopes=self.settings.delegated_scopes)
        except requests.RequestException as error:
            raise TransientError(
                unreachable_reason(error, self.settings.authority_url)
                or f"Cannot reach the Microsoft sign-in service: {error}"
            ) from error
        if "access_token" not in answer:
            codes = answer.get("error_codes") or []
            if answer.get("error") == "invalid_grant":
                code = f" [AADSTS{codes[0]}]" if codes else ""
                message = (
                    f"Microsoft 365 no longer accepts the sign-in of {mailbox} (revoked or expired): reconnect on the "
                    f"calendar sync page{code}."
                )
                if self.grants is not None:
                    self.grants.revoked(mailbox, message)
                raise ConnectionProblem(message)
            raise sign_in_error(answer, self.settings.client_id)
        if answer.get("refresh_token") and self.grants is not None:
            self.grants.rotated(mailbox, answer["refresh_token"])
        self._user_tokens[key] = answer["access_token"]
        return answer["access_token"]

    def redeem_code(self, code: str, code_verifier: str, redirect_uri: str) -> tuple[str, str]:
        """The authorization code of a technician's sign-in (with its PKCE verifier, RFC 7636) for
        (refresh token, account name). ConnectionProblem saying what went wrong."""
        try:
            answer = self._app().acquire_token_by_authorization_code(
                code,
                scopes=self.settings.delegated_scopes,
                redirect_uri=redirect_uri,
                data={"code_verifier": code_verifier},
            )
        except requests.RequestException as error:
            raise TransientError(
                unreachable_reason(error, self.settings.authority_url)
                or f"Cannot reach the Microsoft sign-in service: {error}"
            ) from error
        if "refresh_token" not in answer:
            raise sign_in_error(answer, self.settings.client_id)
        claims = answer.get("id_token_claims") or {}
        account = claims.get("preferred_username") or claims.get("upn") or ""
        return answer["refresh_token"], account

    def _headers(self, mailbox: str = "") -> dict[str, str]:
        token = self._delegated_token(mailbox) if self.settings.delegated and mailbox else self._token()
        return {"Authorization": f"Bearer {token}", "Prefer": PREFER}

    def _user(self, mailbox: str) -> str:
        return f"{self.base}/users/{quote(mailbox)}"

    @staticmethod
    def _calendar_path(calendar: RemoteCalendar) -> str:
        """The chosen calendar, under the Graph base: /users/{mailbox}/calendars/{id} (Graph "Create
        event": POST /users/{id}/calendars/{id}/events; "delta query for events in a calendar view"
        of "some other specified calendar"), or the default /users/{mailbox}/calendar without an id."""
        user = f"/users/{quote(calendar.mailbox)}"
        return f"{user}/calendars/{quote(calendar.calendar_id)}" if calendar.calendar_id else f"{user}/calendar"

    def _request(
        self,
        method: str,
        url: str,
        mailbox: str,
        *,
        body: Any = None,
        headers: dict | None = None,
        item: bool = False,
        write: bool = False,
        slots: int = 1,
    ) -> tuple[int, dict, Any]:
        """One HTTP request within the mailbox's concurrency limit: (status, headers, JSON) of a
        success; our error otherwise (`graph_error`: `item`, the request names one event; `write`,
        it writes one). `slots`: how many of the mailbox's concurrent requests it makes on Graph's
        side (a $batch: its items that run at once)."""
        for attempt in (1, 2):
            all_headers = {**self._headers(mailbox), **(headers or {})}
            # Of the mailbox's 4 slots, shared by all worker processes (shared.mailbox_slot); the
            # lease outlasts the request's connect and read timeouts.
            with shared.mailbox_slot(
                mailbox,
                limit=MAX_PER_MAILBOX,
                lease=2 * self.settings.timeout + 5,
                wait=self.settings.timeout,
                count=slots,
            ):
                try:
                    response = self.session.request(
                        method, url, json=body, headers=all_headers, timeout=self.settings.timeout
                    )
                except requests.RequestException as error:
                    raise TransientError(
                        unreachable_reason(error, url) or f"Microsoft 365 did not answer: {error}"
                    ) from error
            if response.status_code != 401 or attempt == 2:
                break
            # A token Graph no longer takes (consent revoked, secret rolled): sign in anew once, so the
            # token endpoint says what is wrong.
            self._forget_app()
            self._user_tokens.pop(mailbox.lower(), None)
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        if response.status_code >= 400:
            raise graph_error(response.status_code, data, response.headers, mailbox, item=item, write=write)
        return response.status_code, dict(response.headers), data

    def _collection(self, url: str, mailbox: str, *, first: dict | None = None, item: bool = False) -> list[dict]:
        """Every entry of a Graph collection (a list of calendars, a series' instances): its `value`,
        page after page, following `@odata.nextLink` until a page has none (Graph "Paging Microsoft
        Graph data": Outlook collections come 10 a page unless `odata.maxpagesize` asks otherwise).
        `first`: the first page when it is already read (a $batch answer); `url` is then not asked."""
        data = first if first is not None else self._request("GET", url, mailbox, headers=PAGED, item=item)[2]
        entries = list(data.get("value", []))
        while data.get("@odata.nextLink"):
            _, _, data = self._request("GET", data["@odata.nextLink"], mailbox, headers=PAGED, item=item)
            entries += data.get("value", [])
        return entries

    # --- the interface ---

    def test_connection(self, mailbox: str | None = None) -> str:
        """Sign in and, with `mailbox`, open its calendar; ConnectionProblem saying what to fix."""
        if self.settings.delegated:
            if not mailbox:
                return "Technicians connect their own Microsoft 365 calendars; no one has yet."
            self._request("GET", f"{self._user(mailbox)}/calendar", mailbox)
            return connection_tested(f"{mailbox}, with their own sign-in on this connection", "their calendar opens")
        self._token()
        account = f"the connection's app {self.settings.client_id} in tenant {self.settings.tenant_id}"
        if mailbox:
            self._request("GET", f"{self._user(mailbox)}/calendar", mailbox)
            return connection_tested(account, f"through it, {mailbox}'s calendar opens (application permission)")
        return connection_tested(account)

    def find_calendar(self, mailbox: str, name: str | None = None) -> RemoteCalendar:
        if not name:
            _, _, data = self._request("GET", f"{self._user(mailbox)}/calendar", mailbox)
            return RemoteCalendar(mailbox=mailbox, calendar_id=data["id"])
        listed = [
            NamedCalendar(name=c.get("name") or "", calendar_id=c["id"], exact=(c["id"],))
            for c in self._collection(f"{self._user(mailbox)}/calendars", mailbox)
            if c.get("id")
        ]
        chosen = choose_calendar(name, listed, where=f"{mailbox} on Microsoft 365")
        return RemoteCalendar(mailbox=mailbox, calendar_id=chosen.calendar_id)

    def list_changes(
        self,
        calendar: RemoteCalendar,
        token: str | None,
        window: Window,
        *,
        known_versions: Mapping[str, str] | None = None,
        known_series: Collection[str] | None = None,
    ) -> ChangePage:
        """A round of calendarView/delta (Graph "Get incremental changes to events in a calendar
        view"): with no token a new round over the window, else the stored deltaLink; nextLinks are
        followed to the deltaLink, which is the next token. An `@removed` entry is a deletion only
        when its `reason` is "deleted" (OData's deleted-entity reason: destroyed; Graph "Use delta
        query to track changes in Microsoft Graph data", resource representation in the delta query
        response). Any other reason ("changed": removed from the view, as an event moved or changed
        outside the calendarView's range is; or none) is confirmed: an entry we hold
        (`known_versions`) is asked for, 20 to a $batch, in the linked calendar (its expanded
        `calendar`, as `get` checks it) - gone (404) or in another calendar is a deletion, still
        there is an entry like any other the delta reports (unchanged with the changeKey we hold,
        else read again), whether inside the window or beyond it. A removed id we do not hold is no
        deletion of ours. The delta does not carry extended properties, so changed entries whose
        changeKey is not the one we hold are read again with our marker, 20 to a $batch. An
        occurrence removed that we never held sends the series we hold (`known_series`) to be asked
        whether they changed, 20 to a $batch. A 410 raises SyncTokenExpired."""
        mailbox = calendar.mailbox
        if token:
            url = token
        else:
            query = urlencode(
                {
                    "startDateTime": _iso(window.start),
                    "endDateTime": _iso(window.end),
                }
            )
            url = f"{self.base}{self._calendar_path(calendar)}/calendarView/delta?{query}"
        page = ChangePage(full=token is None)
        known = known_versions or {}
        to_read: list[str] = []
        seen: dict[str, dict] = {}
        # Ids the delta says left the view without saying they were deleted (reason "changed" or none).
        removed: dict[str, None] = {}
        while True:
            _, _, data = self._request("GET", url, mailbox, headers={"Prefer": f"{PREFER}, {DELTA_PAGE}"})
            for entry in data.get("value", []):
                if "@removed" in entry:
                    seen.pop(entry["id"], None)
                    if (entry.get("@removed") or {}).get("reason") == "deleted":
                        removed.pop(entry["id"], None)
                        page.deleted.append(entry["id"])
                    else:
                        removed[entry["id"]] = None
                else:
                    removed.pop(entry["id"], None)
                    seen[entry["id"]] = entry
            if data.get("@odata.nextLink"):
                url = data["@odata.nextLink"]
                continue
            page.next_token = data.get("@odata.deltaLink")
            break
        # Removed from the view is not deleted: an event moved (or changed) beyond the calendarView's
        # range comes back @removed too, and taking it as deleted deleted the appointment.
        unsure = [i for i in removed if i not in page.deleted and (known_versions is None or i in known)]
        series: dict[str, list[dict]] = {}
        if token and known and any(i not in known for i in [*page.deleted, *removed]):
            # A removed id we never held is an occurrence: its series may be gone as a whole, or
            # have lost its last occurrence in the window, which the delta says only through its
            # occurrences. Ask for the entries we hold: gone, or changed (a new changeKey:
            # deleting an occurrence changes its master) and then read below.
            # Only a series has occurrences: the singles we hold are not asked (`known_series`).
            unsure += [
                i
                for i in known
                if i not in seen
                and i not in page.deleted
                and i not in removed
                and (known_series is None or i in known_series)
            ]
        self._confirm_held(calendar, unsure, known, page, seen, series, removed)
        # A series shows as its occurrences and exceptions (never its master): it is one entry here,
        # unchanged when every occurrence reported carries the master's version we hold.
        for event_id, entry in seen.items():
            if entry.get("seriesMasterId"):
                series.setdefault(entry["seriesMasterId"], []).append(entry)
            elif known.get(event_id) and known[event_id] == entry.get("changeKey"):
                page.unchanged.append(event_id)
            else:
                to_read.append(event_id)
        series_to_read = []
        for master_id, entries in series.items():
            if known.get(master_id) and entries and all(e.get("changeKey") == known[master_id] for e in entries):
                page.unchanged.append(master_id)
            else:
                series_to_read.append(master_id)
        user = f"/users/{quote(mailbox)}"
        ops = [("GET", f"{user}/events/{quote(i)}?$expand={mapping.expand_properties()}", None, {}) for i in to_read]
        span = urlencode({"startDateTime": _iso(window.start), "endDateTime": _iso(window.end)})
        for master_id in series_to_read:
            ops.append(("GET", f"{user}/events/{quote(master_id)}?$expand={mapping.expand_properties()}", None, {}))
            ops.append(("GET", f"{user}/events/{quote(master_id)}/instances?{span}", None, PAGED))
        answers = []
        for start in range(0, len(ops), MAX_BATCH):
            answers += self._batch(mailbox, ops[start : start + MAX_BATCH])
        for event_id, (status, headers, body) in zip(to_read, answers[: len(to_read)], strict=True):
            if status == 404:
                page.deleted.append(event_id)
            elif status < 400:
                try:
                    page.changed.append(mapping.event_from_graph(body))
                except UnreadableEntry as error:  # named in the sync log; the rest of the page stands
                    page.unreadable[event_id] = str(error)
            else:
                self._unreadable_or_raise(page, event_id, graph_error(status, body, headers, mailbox, item=True))
        rest = answers[len(to_read) :]
        for number, master_id in enumerate(series_to_read):
            (status, headers, master), (status2, headers2, instances) = rest[2 * number], rest[2 * number + 1]
            if status == 404:
                page.deleted.append(master_id)
                continue
            refused = [(c, b, h) for c, h, b in ((status, headers, master), (status2, headers2, instances)) if c >= 400]
            if refused:
                code, body, head = refused[0]
                self._unreadable_or_raise(page, master_id, graph_error(code, body, head, mailbox, item=True))
                continue
            try:
                occurrences = self._collection("", mailbox, first=instances, item=True)
            except EntryRefused as error:
                page.unreadable[master_id] = str(error)
                continue
            try:
                page.changed.append(mapping.series_from(master, occurrences, window.start, window.end))
            except UnreadableEntry as error:
                page.unreadable[master_id] = str(error)
        return page

    def _confirm_held(
        self,
        calendar: RemoteCalendar,
        unsure: list[str],
        known: Mapping[str, str],
        page: ChangePage,
        seen: dict[str, dict],
        series: dict[str, list[dict]],
        removed: Collection[str],
    ) -> None:
        """Ask Graph for the held entries `unsure` (event ids), 20 to a $batch, with their calendar
        ($expand=calendar($select=id), as `get` asks): gone (404) or in another calendar of the
        mailbox (`_in_calendar`) goes to `page.deleted`; one whose changeKey is not the one we hold
        (`known`) is to be read (a series master into `series`, else into `seen`); one with the
        changeKey we hold is `page.unchanged` when the delta had it `removed`, else left out (a
        series asked only because an occurrence of some series went). Any other error of an item
        for a `removed` entry is raised as `_request` raises it (graph_error; 403: `page.unreadable`),
        so nothing unconfirmed counts as gone; for a series only asked, it is left as it was."""
        mailbox = calendar.mailbox
        user_path = f"/users/{quote(mailbox)}"
        query = f"$select=id,changeKey,type&$expand={EXPAND_CALENDAR}"
        checks = [("GET", f"{user_path}/events/{quote(i)}?{query}", None, {}) for i in unsure]
        for start in range(0, len(checks), MAX_BATCH):
            chunk = unsure[start : start + MAX_BATCH]
            for event_id, (status, headers, body) in zip(
                chunk, self._batch(mailbox, checks[start : start + MAX_BATCH]), strict=True
            ):
                if status == 404:
                    page.deleted.append(event_id)
                elif status >= 400:
                    if event_id in removed:  # unconfirmed is not gone: the pull fails, this delta is read again
                        self._unreadable_or_raise(
                            page, event_id, graph_error(status, body, headers, mailbox, item=True)
                        )
                elif not isinstance(body, dict):
                    continue
                elif not self._in_calendar(calendar, body.pop("calendar", None)):
                    page.deleted.append(event_id)  # gone from the linked calendar, if not from the mailbox
                elif body.get("changeKey") != known.get(event_id):
                    if body.get("type") == "seriesMaster":
                        series[event_id] = []
                    else:
                        seen[event_id] = body
                elif event_id in removed:
                    page.unchanged.append(event_id)

    @staticmethod
    def _unreadable_or_raise(page: ChangePage, event_id: str, error: ProviderError) -> None:
        """One event of a listing that Graph would not give: refused (403), it is that entry's
        alone, named in the sync log while the rest of the page stands (the listing itself was
        allowed, so the calendar is readable); any other error is raised."""
        if not isinstance(error, EntryRefused):
            raise error
        page.unreadable[event_id] = str(error)

    def _batch(self, mailbox: str, ops: list[tuple[str, str, Any, dict]]) -> list[tuple[int, dict, Any]]:
        """(status, headers, body) per op, in order, through $batch (JSON batching, at most 20
        requests). The items run as 4 chains (dependsOn), so no more than 4 run at once against the
        mailbox; an item a failed one blocked (424) is sent again in the next round."""
        results: list[tuple[int, dict, Any] | None] = [None] * len(ops)
        pending = list(range(len(ops)))
        while pending:
            answers = self._batch_once(mailbox, [ops[n] for n in pending])
            blocked = []
            for number, answer in zip(pending, answers, strict=True):
                if answer[0] == 424:
                    blocked.append(number)
                else:
                    results[number] = answer
            if len(blocked) == len(pending):  # no progress: give the items their 424
                for number, answer in zip(pending, answers, strict=True):
                    results[number] = answer
                break
            pending = blocked
        return results

    def _batch_once(self, mailbox: str, ops: list[tuple[str, str, Any, dict]]) -> list[tuple[int, dict, Any]]:
        requests_ = []
        for number, (method, url, body, headers) in enumerate(ops):
            item: dict[str, Any] = {
                "id": str(number),
                "method": method,
                "url": url,
                "headers": {"Prefer": PREFER, **headers},
            }
            if body is not None:
                item["body"] = body
                item["headers"]["Content-Type"] = "application/json"
            if number >= MAX_PER_MAILBOX:
                item["dependsOn"] = [str(number - MAX_PER_MAILBOX)]
            requests_.append(item)
        # The first MAX_PER_MAILBOX items (no dependsOn) run at once: each holds one of the mailbox's slots.
        _, _, data = self._request(
            "POST", f"{self.base}/$batch", mailbox, body={"requests": requests_}, slots=min(len(ops), MAX_PER_MAILBOX)
        )
        by_id = {r["id"]: r for r in data.get("responses", [])}
        return [
            (by_id[str(n)]["status"], by_id[str(n)].get("headers") or {}, by_id[str(n)].get("body") or {})
            if str(n) in by_id
            else (503, {}, {})
            for n in range(len(ops))
        ]

    def create(self, calendar: RemoteCalendar, event: RemoteEvent) -> RemoteRef:
        """POST the entry with our marker and a transactionId derived from it: a retried create
        gets the first entry back instead of a second one (event resource, transactionId)."""
        _, _, data = self._request(
            "POST",
            f"{self.base}{self._calendar_path(calendar)}/events",
            calendar.mailbox,
            body=mapping.create_body(event, calendar.calendar_id),
            write=True,
        )
        if event.is_recurring and (event.overrides or event.exdates):
            data = self._apply_exceptions(calendar, data["id"], event, None)
        return RemoteRef(remote_id=data["id"], version=data.get("changeKey"), raw=json.dumps(data, sort_keys=True))

    def _apply_exceptions(
        self, calendar: RemoteCalendar, master_id: str, event: RemoteEvent, base: RemoteEvent | None
    ) -> dict:
        """Make the series' moved occurrences exceptions (PATCH the occurrence) and delete its
        cancelled ones (Graph: an occurrence deleted is cancelled), leaving those `base` already
        has; then the master as it is now (its version moves with its occurrences). With `base`
        (the series as last read, its pattern not written now), an occurrence to change that the
        series as last read gave and no longer has is VersionConflict: the series changed there since;
        one on a day its pattern never gave (no instance in Graph) is logged and skipped."""
        zone = event.time_zone or "UTC"
        # The exceptions as last read, by original start (UTC): their times and the text they hold.
        held = {mapping._utc(o.original_start, zone): o for o in (base.overrides if base else [])}
        had_exdates = {mapping._utc(d, zone) for d in (base.exdates if base else [])}
        wanted = {}
        for override in event.overrides:
            original = mapping._utc(override.original_start, zone)
            have = held.get(original)
            same_times = have is not None and (mapping._utc(have.start, zone), mapping._utc(have.end, zone)) == (
                mapping._utc(override.start, zone),
                mapping._utc(override.end, zone),
            )
            if not same_times or occurrence_texts_to_write(override, event, have):
                wanted[original] = ("PATCH", mapping.override_values(override, event, have))
        for exdate in event.exdates:
            original = mapping._utc(exdate, zone)
            if original not in had_exdates:
                wanted[original] = ("DELETE", None)
        user = self._user(calendar.mailbox)
        if wanted:
            first, last = min(wanted), max(wanted)
            span = urlencode(
                {"startDateTime": _iso(first - timedelta(days=1)), "endDateTime": _iso(last + timedelta(days=2))}
            )
            instances = self._collection(
                f"{user}/events/{quote(master_id)}/instances?{span}", calendar.mailbox, item=True
            )
            by_original = {
                mapping.original_utc(i["originalStart"]): i["id"] for i in instances if i.get("originalStart")
            }
            # The starts the series as last read gave: only a wanted one of those that has no instance now
            # was moved or re-ruled in Outlook since; a day its pattern never gave (an exception the
            # helpdesk holds off Graph's pattern) has nothing to change and is skipped below.
            given = set(mapping.original_starts(base, last + timedelta(seconds=1))) if base and base.rrules else set()
            ops = []
            for original, (method, body) in sorted(wanted.items()):
                occurrence = by_original.get(original)
                if occurrence is None and original in given:
                    # The series as last read had it: moved or re-ruled there since (review 6), so the
                    # cancellation or edit would be lost. Read again and merged by the engine.
                    raise VersionConflict(
                        f"The series changed in {calendar.mailbox}'s calendar since we last read it: "
                        f"no occurrence starts at {_iso(original)} any more."
                    )
                if occurrence is None:
                    logger.info(
                        "No occurrence of %s starts at %s (its pattern does not give it); nothing to change there",
                        master_id,
                        original,
                    )
                    continue
                ops.append((method, f"/users/{quote(calendar.mailbox)}/events/{quote(occurrence)}", body, {}))
            for start in range(0, len(ops), MAX_BATCH):
                for status, headers, body in self._batch(calendar.mailbox, ops[start : start + MAX_BATCH]):
                    if status >= 400 and status != 404:
                        raise graph_error(status, body, headers, calendar.mailbox, item=True, write=True)
        expand = mapping.expand_properties()
        _, _, data = self._request(
            "GET", f"{user}/events/{quote(master_id)}?$expand={expand}", calendar.mailbox, item=True
        )
        return data

    def _patch(self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, base: RemoteEvent | None):
        own = bool(event.marker and event.marker.startswith(mapping.OWN_PREFIX))
        if base is not None:
            own = own and (base.marker == event.marker)
            return mapping.changed_values(event, base, own=own)
        return mapping.event_values(event, own=own)

    def update(
        self, calendar: RemoteCalendar, ref: RemoteRef, event: RemoteEvent, *, base: RemoteEvent | None = None
    ) -> RemoteRef:
        """PATCH only the helpdesk-owned fields that differ from `base`, with If-Match on the
        version we hold (412 -> VersionConflict); without `base` the entry is read first. Nothing
        to write: no request, the same version back. RemoteNotFound when the entry is gone."""
        if base is None:
            base = self.get(calendar, ref)
            if base is None:
                raise RemoteNotFound(f"The entry is no longer in {calendar.mailbox}'s calendar.")
        patch = self._patch(calendar, ref, event, base)
        if event.is_recurring and base.is_recurring and _undoes_exceptions(event, base):
            # Graph cannot bring back a cancelled occurrence or undo an exception on its own: writing the
            # pattern again resets the series (as Outlook does), and every exception is written anew.
            full = mapping.event_values(event, own=False)
            patch.update(start=full["start"], end=full["end"], recurrence=full["recurrence"])
        series_changes = event.is_recurring and (
            "recurrence" in patch
            or sorted(map(str, event.exdates)) != sorted(map(str, base.exdates))
            or mapping_overrides(event) != mapping_overrides(base)
        )
        if not patch and not series_changes:
            return RemoteRef(remote_id=ref.remote_id, version=ref.version or base.version, raw=base.raw)
        data = None
        if not patch and ref.version:
            # Only occurrences to write, each under its own id with no If-Match of the series: the
            # series' changeKey moves with any of its occurrences, so it is checked first, as the
            # master's If-Match would be. A cancellation made on the phone meanwhile is then decided
            # again on the series as it is now (SPEC S3.8), never hidden under our write's version.
            _, _, current = self._request(
                "GET", f"{self._user(calendar.mailbox)}/events/{quote(ref.remote_id)}", calendar.mailbox, item=True
            )
            if current.get("changeKey") != ref.version:
                raise VersionConflict(f"The entry changed in {calendar.mailbox}'s calendar since we last read it.")
        if patch:
            headers = {"If-Match": f'W/"{ref.version}"'} if ref.version else {}
            _, _, data = self._request(
                "PATCH",
                f"{self._user(calendar.mailbox)}/events/{quote(ref.remote_id)}?$expand={mapping.expand_properties()}",
                calendar.mailbox,
                body=patch,
                headers=headers,
                item=True,
                write=True,
            )
        if series_changes:
            # A new pattern or new series times drop the exceptions: all are written again then.
            data = self._apply_exceptions(calendar, ref.remote_id, event, None if "recurrence" in patch else base)
        return RemoteRef(remote_id=data["id"], version=data.get("changeKey"), raw=json.dumps(data, sort_keys=True))

    def get(self, calendar: RemoteCalendar, ref: RemoteRef, window: Window | None = None) -> RemoteEvent | None:
        """The entry of `calendar` as Graph holds it now, or None when it is gone (404) or lives in
        another calendar of the mailbox. An event id names an event in the whole mailbox, and
        GET /users/{id}/calendars/{id}/events/{id} answers it whatever calendar holds it
        (microsoftgraph/microsoft-graph-docs#391: "event IDs are unique across all calendars in the
        same mailbox"), so the event's `calendar` (event resource, relationships: "The calendar that
        contains the event", read with $expand=calendar($select=id)) must be the linked one
        (`_in_calendar`): after a relink to another calendar of the same mailbox, the old
        calendar's entry is not taken as present in the new one. A series master alone has only
        its pattern: its instances over `window` (Graph "List instances") give its cancelled
        occurrences and exceptions, so the series reads as `list_changes` gives it. Without a
        window, the instances from the series' first start to a year after it are read.
        Raises ProviderError (and its kinds) as `_request` does, TransientError when Graph will not
        say which calendar the event's calendar id names (`_in_calendar`)."""
        return self._read(calendar, ref, window, scoped=True)

    def _read(
        self, calendar: RemoteCalendar, ref: RemoteRef, window: Window | None, *, scoped: bool
    ) -> RemoteEvent | None:
        """`get`; `scoped` False: the event is known to be the linked calendar's (found under its
        path), so its calendar is not asked for."""
        user = self._user(calendar.mailbox)
        expand = f"{mapping.expand_properties()},{EXPAND_CALENDAR}" if scoped else mapping.expand_properties()
        try:
            _, _, data = self._request(
                "GET",
                f"{user}/events/{quote(ref.remote_id)}?$expand={expand}",
                calendar.mailbox,
                item=True,
            )
        except RemoteNotFound:
            return None
        # Outside the 404 above: a linked calendar Graph cannot find is an error, never "entry gone".
        if scoped and not self._in_calendar(calendar, data.pop("calendar", None)):
            return None
        try:
            if data.get("type") != "seriesMaster":
                return mapping.event_from_graph(data)
            if window is None:
                first = mapping.event_from_graph(data)
                start = mapping._utc(first.start, first.time_zone or "UTC")
                window = Window(start - timedelta(days=1), start + timedelta(days=366))
            span = urlencode({"startDateTime": _iso(window.start), "endDateTime": _iso(window.end)})
            instances = self._collection(
                f"{user}/events/{quote(ref.remote_id)}/instances?{span}", calendar.mailbox, item=True
            )
        except RemoteNotFound:
            return None
        return mapping.series_from(data, instances, window.start, window.end)

    def _in_calendar(self, calendar: RemoteCalendar, parent: dict | None) -> bool:
        """Is `parent` (an event's expanded `calendar`, {"id": ...}) the linked calendar? False only
        when it is positively another calendar of the mailbox. Calendar ids are not immutable and
        one calendar's id may come in more than one form (outlook-immutable-id: containers keep no
        immutable id; microsoftgraph/microsoft-graph-docs#5580, #6699, #11296), so an id that is not
        the stored one is compared in the form Graph itself gives each calendar (`_canonical_id`):
        the linked one's and the expanded one's. An answer without the calendar tells nothing: the
        event is taken as the linked calendar's, as before this check. Raises TransientError when
        Graph will not say which calendar the expanded id names (never read as "gone": a caller
        counts it unanswered or fails the item for a later retry), and ProviderError as `_request`."""
        found = (parent or {}).get("id")
        if not found or found == calendar.calendar_id:
            return True
        linked = self._canonical_id(calendar.mailbox, calendar.calendar_id)
        if found == linked:
            return True
        try:
            other = self._canonical_id(calendar.mailbox, found)
        except TransientError:
            raise
        except ProviderError as error:
            raise TransientError(
                f"Could not tell which calendar of {calendar.mailbox} holds the entry: {error}"
            ) from error
        return other == linked

    def _canonical_id(self, mailbox: str, calendar_id: str) -> str:
        """A calendar's id as Graph gives it (GET /users/{id}/calendars/{id}?$select=id, or
        /users/{id}/calendar for the default one, `calendar_id` ""), asked once per provider,
        mailbox and id form. Raises ProviderError (and its kinds) as `_request` does."""
        key = (mailbox.lower(), calendar_id)
        if key not in self._calendar_ids:
            path = self._calendar_path(RemoteCalendar(mailbox, calendar_id))
            _, _, data = self._request("GET", f"{self.base}{path}?$select=id", mailbox)
            self._calendar_ids[key] = data.get("id") or calendar_id
        return self._calendar_ids[key]

    def find_by_marker(self, calendar: RemoteCalendar, marker: str, window: Window | None = None) -> RemoteEvent | None:
        """The event carrying our marker in its extended property, wherever its start is (Graph
        "Get singleValueLegacyExtendedProperty": events $filter on
        singleValueExtendedProperties/Any), read as `get` reads it; None when there is none."""
        quoted = marker.replace("'", "''")  # OData: a quote inside a string literal is doubled
        wanted = (
            f"singleValueExtendedProperties/Any(ep: ep/id eq '{mapping.MARKER_PROPERTY_ID}' and ep/value eq '{quoted}')"
        )
        query = urlencode({"$filter": wanted, "$select": "id"})
        _, _, data = self._request(
            "GET", f"{self.base}{self._calendar_path(calendar)}/events?{query}", calendar.mailbox
        )
        found = data.get("value") or []
        # Listed under the linked calendar's path, so it is that calendar's: asking again which
        # calendar holds it could only lose it (a second create) if Graph would not say.
        return self._read(calendar, RemoteRef(found[0]["id"], None), window, scoped=False) if found else None

    def delete(self, calendar: RemoteCalendar, ref: RemoteRef) -> None:
        """DELETE the entry, with If-Match on the version we hold when we hold one (412 ->
        VersionConflict: changed in Outlook since read), as the $batch DELETE of `apply_bulk` and
        Google's and CalDAV's deletes; 404 (gone already) counts as done."""
        headers = {"If-Match": f'W/"{ref.version}"'} if ref.version else {}
        try:
            self._request(
                "DELETE",
                f"{self._user(calendar.mailbox)}/events/{quote(ref.remote_id)}",
                calendar.mailbox,
                headers=headers,
                item=True,
                write=True,
            )
        except RemoteNotFound:
            return

    def rights(self, calendar: RemoteCalendar) -> CalendarRights:
        """The calendar's `canEdit` (Graph calendar resource: "true if the user can write to the
        calendar"), asked with one GET of the calendar; a calendar Graph refuses (403) or no longer
        shows (404) to the app is neither readable nor writable."""
        url = f"{self.base}{self._calendar_path(calendar)}?$select=id,canEdit"
        try:
            _, _, data = self._request("GET", url, calendar.mailbox)
        except (ConnectionProblem, RemoteNotFound) as error:
            return CalendarRights(
                read=False,
                write=False,
                source=f"the calendar itself is refused: {error}"[:300],
                fix="add the mailbox to the group of the tenant's application access policy and check that the "
                "calendar still exists",
            )
        can_edit = data.get("canEdit") is True
        return CalendarRights(
            read=True,
            write=can_edit,
            source=f"canEdit {str(can_edit).lower()}",
            fix="give the app the Calendars.ReadWrite application permission with admin consent, and edit rights "
            "on this calendar where it is shared from another mailbox",
        )

    def apply_bulk(self, calendar: RemoteCalendar, ops: list[BulkOp]) -> list[BulkResult]:
        """The ops as one $batch of at most 20: creates (with transactionId), PATCHes with If-Match
        merging against each op's base, DELETEs (404 counts as done). One result per op."""
        if len(ops) > MAX_BATCH:
            raise ProviderError(f"At most {MAX_BATCH} writes go in one Graph $batch.")
        mailbox = calendar.mailbox
        user = f"/users/{quote(mailbox)}"
        requests_: list[tuple[str, str, Any, dict] | None] = []
        results: list[BulkResult | None] = []
        series: list[int] = []
        for op in ops:
            if op.kind != "delete" and op.event is not None and op.event.is_recurring:
                # A series needs its occurrences read and written after the master: not one batch
                # item; written below, once the $batch is through.
                series.append(len(results))
                results.append(None)
                requests_.append(None)
                continue
            try:
                if op.kind == "create":
                    requests_.append(
                        (
                            "POST",
                            f"{self._calendar_path(calendar)}/events",
                            mapping.create_body(op.event, calendar.calendar_id),
                            {},
                        )
                    )
                    results.append(None)
                    continue
                headers = {"If-Match": f'W/"{op.ref.version}"'} if op.ref.version else {}
                if op.kind == "delete":
                    requests_.append(("DELETE", f"{user}/events/{quote(op.ref.remote_id)}", None, headers))
                    results.append(None)
                    continue
                patch = self._patch(calendar, op.ref, op.event, op.base)
                if not patch:
                    results.append(
                        BulkResult(ref=RemoteRef(op.ref.remote_id, op.ref.version, op.base.raw if op.base else None))
                    )
                    requests_.append(None)
                    continue
                url = f"{user}/events/{quote(op.ref.remote_id)}?$expand={mapping.expand_properties()}"
                requests_.append(("PATCH", url, patch, headers))
                results.append(None)
            except ProviderError as error:
                results.append(BulkResult(error=error))
                requests_.append(None)
        sent = [r for r in requests_ if r is not None]
        # The $batch first: a whole-request failure (throttled, unreachable) raises while nothing of
        # these ops is written, so the engine may retry them all. Were the series written first, a
        # retry would write them again and a final failure would report writes that were done as
        # failed: their new change keys lost, the next If-Match refused, and our own write read back
        # as a change made in Outlook.
        answers = iter(self._batch(mailbox, sent) if sent else [])
        for index in series:
            op = ops[index]
            try:
                if op.kind == "create":
                    ref = self.create(calendar, op.event)
                else:
                    ref = self.update(calendar, op.ref, op.event, base=op.base)
                results[index] = BulkResult(ref=ref)
            except ProviderError as error:
                results[index] = BulkResult(error=error)
        final: list[BulkResult] = []
        for op, request, result in zip(ops, requests_, results, strict=True):
            if request is None:
                final.append(result)
                continue
            status, headers, body = next(answers)
            if status < 400:
                if op.kind == "delete":
                    final.append(BulkResult())
                else:
                    final.append(
                        BulkResult(ref=RemoteRef(body["id"], body.get("changeKey"), json.dumps(body, sort_keys=True)))
                    )
            elif status == 404 and op.kind == "delete":
                final.append(BulkResult())
            else:
                final.append(BulkResult(error=graph_error(status, body, headers, mailbox, item=True, write=True)))
        return final

    # --- change notifications (Graph "Set up notifications for changes in resource data") ---

    @staticmethod
    def subscription_resource(calendar: RemoteCalendar) -> str:
        """The synced calendar's events as a subscription resource: users/{mailbox}/calendars/{id}/events,
        or users/{mailbox}/calendar/events for the default calendar (the paths of Graph's event
        resource, "List events"), so a change in another calendar of the mailbox wakes no pull. A
        resource is a JSON string, not a URL: nothing in it is percent-encoded."""
        if calendar.calendar_id:
            return f"users/{calendar.mailbox}/calendars/{calendar.calendar_id}/events"
        return f"users/{calendar.mailbox}/calendar/events"

    def subscribe(
        self, calendar: RemoteCalendar, notification_url: str, client_state: str, expires_at: datetime
    ) -> tuple[str, datetime]:
        """A subscription to created/updated/deleted events of the synced calendar
        (`subscription_resource`), delivered to `notification_url` (Graph first checks it with a
        validationToken request), lifecycle notifications to the same address. Graph's table of
        subscription resources names only the whole mailbox's events (/users/{id}/events) for Outlook
        events: when Graph refuses the calendar's path (400, the URL check aside), the mailbox's
        events are subscribed to instead, a broader wake-up but the same pulls. Returns (subscription
        id, expiry, UTC); raises ProviderError as `_request` does."""
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": notification_url,
            "resource": self.subscription_resource(calendar),
            "expirationDateTime": _iso(expires_at),
            "clientState": client_state,
        }
        try:
            _, _, data = self._request("POST", f"{self.base}/subscriptions", calendar.mailbox, body=body)
        except ProviderError as error:
            if getattr(error, "status", None) != 400 or getattr(error, "code", "") == "ValidationError":
                raise
            logger.info("Graph refused %s as a subscription resource (%s); subscribing to the mailbox", body, error)
            body["resource"] = f"users/{calendar.mailbox}/events"
            _, _, data = self._request("POST", f"{self.base}/subscriptions", calendar.mailbox, body=body)
        return data["id"], mapping.original_utc(data.get("expirationDateTime") or _iso(expires_at))

    def renew(self, calendar: RemoteCalendar, subscription_id: str, expires_at: datetime) -> datetime:
        """Move the subscription's expiry (UTC). RemoteNotFound when Graph no longer has it, and when it
        watches the whole mailbox (made before subscriptions named the calendar): it is then deleted,
        so the caller subscribes anew to the calendar's events. Where Graph refuses those, `subscribe`
        falls back to the mailbox's again, so such a subscription is made anew at each renewal."""
        _, _, data = self._request(
            "PATCH",
            f"{self.base}/subscriptions/{quote(subscription_id)}",
            calendar.mailbox,
            body={"expirationDateTime": _iso(expires_at)},
            item=True,
        )
        if data.get("resource", "").strip("/").lower() == f"users/{calendar.mailbox}/events".lower():
            self.unsubscribe(calendar, subscription_id)
            raise RemoteNotFound(f"Subscription {subscription_id} watches every calendar of {calendar.mailbox}.")
        return mapping.original_utc(data.get("expirationDateTime") or _iso(expires_at))

    def unsubscribe(self, calendar: RemoteCalendar, subscription_id: str) -> None:
        try:
            self._request("DELETE", f"{self.base}/subscriptions/{quote(subscription_id)}", calendar.mailbox, item=True)
        except RemoteNotFound:
            return
