"""A local Google Calendar API v3 server for the connector tests.

It speaks JSON over HTTP on 127.0.0.1 (port 0) the way www.googleapis.com does, following Google's
published documents, so the real google-api-python-client and google-auth can talk to it:

- OAuth 2.0 token endpoint (developers.google.com/identity/protocols/oauth2/service-account and
  .../oauth2/web-server): the JWT bearer grant of a service account (RS256 signature checked with
  the account's public key, `aud` = Google's token endpoint, `exp` at most an hour after `iat`, the scope,
  and `sub` only when the Workspace admin granted the account's client id domain-wide delegation
  for that scope: otherwise 401 unauthorized_client), and the refresh_token grant of a per-user
  OAuth client (invalid_client, invalid_grant "Token has been expired or revoked."); the
  authorization endpoint of the web-server flow (a consent screen for `signed_in_user`,
  redirecting with a single-use code, or error=access_denied) and the authorization_code grant
  (redirect_uri checked, a refresh token only for access_type=offline).
- Calendar v3 (developers.google.com/calendar/api/v3/reference): calendars.get; events.insert
  (client-chosen id: base32hex characters a-v and 0-9, 5 to 1024 long, 409 duplicate), get,
  patch and update (If-Match against the etag: 412 conditionNotMet), delete (404 notFound, 410
  deleted for an event already deleted), list (singleEvents=false: recurring masters and their
  exceptions; timeMin/timeMax on a full listing; maxResults/pageToken; nextSyncToken on the last
  page; syncToken returns every change since, deleted events as status "cancelled"; a token the
  server no longer holds is 410 fullSyncRequired; syncToken with timeMin/timeMax/iCalUID is 400;
  eventTypes, repeated, filters by the events' `eventType`, which is "default" unless set on
  insert and never changes),
  instances of recurring events by id ("<master>_<YYYYMMDDTHHMMSSZ>" / "<master>_<YYYYMMDD>"),
  which a patch or delete turns into an exception or a cancelled occurrence.
- Batch (developers.google.com/calendar/api/guides/batch): POST multipart/mixed to
  /batch/calendar/v3, at most 50 calls, each part an application/http request answered by a part
  with its own status, Content-ID "response-<request id>".
- Push notifications (developers.google.com/calendar/api/guides/push): events.watch opens a
  web_hook channel (id, address, token, params.ttl) answered with resourceId and expiration
  (ms); a "sync" message first, then "exists" after each change of the calendar, POSTed from
  another thread with the X-Goog-Channel-ID / -Token / Resource-ID / Resource-State /
  Message-Number headers; channels.stop ends one.
- Errors as Google sends them: {"error": {"code", "message", "errors": [{"domain", "reason",
  "message"}]}}; rate limits as 403 rateLimitExceeded / userRateLimitExceeded (domain
  usageLimits) or 429, with Retry-After when a test asks; 403 accessNotConfigured when the
  Calendar API is switched off for the project.

State is in memory; tests seed and inspect it "as Google Calendar on a phone" would, switch faults
on, and count requests (`requests`: one per HTTP call to the API, a batch counting as one).
"""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import hashlib
import http.client
import itertools
import json
import random
import re
import threading
import time as clock
import traceback
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from dateutil import rrule

CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
READ_SCOPES = {f"{CALENDAR_SCOPE}.readonly", f"{EVENTS_SCOPE}.readonly"}
# The service-account docs: `aud` "is always https://oauth2.googleapis.com/token", whatever URL is posted to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
MAX_BATCH = 50
# events resource `eventType`: "default" unless set on insert; it cannot be changed afterwards.
EVENT_TYPES = {"default", "birthday", "focusTime", "fromGmail", "outOfOffice", "workingLocation"}
# Server-managed fields a client cannot set (events resource reference).
READ_ONLY = {"kind", "etag", "created", "updated", "htmlLink", "creator", "organizer", "iCalUID", "recurringEventId"}


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_time(value: dict, default_zone: str = "UTC") -> datetime | date:
    """An EventDateTime's moment: a date for all-day, else an aware datetime."""
    if value.get("date"):
        return date.fromisoformat(value["date"])
    moment = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(value.get("timeZone") or default_zone))
    return moment


def as_utc(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def instance_suffix(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def instance_id(master_id: str, original_start: datetime | date) -> str:
    """The id Google gives an occurrence of a recurring event (Calendar API, events.instances):
    "<eventId>_<YYYYMMDDTHHMMSSZ>" (UTC) for a timed series, "<eventId>_<YYYYMMDD>" for an all-day
    one. The tests' "phone" builds occurrence ids with this, never with the connector's own."""
    return f"{master_id}_{instance_suffix(original_start)}"


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, *, domain: str = "global", headers=None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.domain = code, reason, message, domain
        self.headers = headers or {}

    def body(self) -> dict:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
            }
        }


@dataclass
class ServiceAccount:
    client_email: str
    client_id: str
    public_key: object


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    # refresh token -> (user e-mail, scopes)
    refresh_tokens: dict[str, tuple[str, set[str]]] = field(default_factory=dict)


@dataclass
class Calendar:
    id: str
    summary: str
    time_zone: str = "UTC"
    events: dict[str, dict] = field(default_factory=dict)
    # Sync tokens below this sequence number are no longer honoured (410 fullSyncRequired).
    oldest_token: int = 0
    # Whose calendar it is: a user's primary calendar (id = their address) or one they made.
    owner: str = ""
    # The signed-in account's access to it (CalendarList resource `accessRole`): "owner", or
    # "reader" once it may only read it (`drop_write_right`).
    access_role: str = "owner"
    # Events refused on their own (`refuse_event`): id -> (reason, "write" or "read").
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)


class GoogleCalendarServer:
    """Start with `with GoogleCalendarServer() as google:`; see `api_endpoint`, `batch_uri`, `token_uri`."""

    def __init__(self) -> None:
        self.service_accounts: dict[str, ServiceAccount] = {}
        # Workspace admin console, "Domain-wide delegation": client id -> granted scopes.
        self.delegations: dict[str, set[str]] = {}
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.users: set[str] = set()
        # The Google account signed in in the "browser" at the consent screen, and whether it allows.
        self.signed_in_user: str | None = None
        self.consent = True
        self._codes: dict[str, dict] = {}
        self.calendars: dict[str, Calendar] = {}
        self.tokens: dict[str, tuple[str, set[str]]] = {}  # access token -> (user, scopes)
        # access token -> the grant it came from (a refresh token, or a delegating client id): taking
        # that back ends its access tokens too (RFC 7009 section 2.1; Google "Revoking a token").
        self.granted_by: dict[str, str] = {}
        self.api_enabled = True
        self.requests: list[str] = []  # "METHOD /path" per HTTP call to the API (batch = 1)
        self.batch_parts: list[str] = []  # "METHOD /path" of each call inside a batch
        self.token_requests: list[dict] = []  # grants seen at the token endpoint
        self.token_answers: deque[tuple[int, object]] = deque()  # (status, JSON) served instead of the next grants
        self.send_updates: list[str | None] = []  # sendUpdates of every write
        self.faults: deque[dict] = deque()
        # Random faults: each API call fails with probability fault_rate, of a kind from fault_kinds.
        self.fault_rate = 0.0
        self.fault_kinds: tuple[str, ...] = ("429", "503", "drop", "drop_after")
        self.random = random.Random(0)
        self.faults_served: Counter[str] = Counter()
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self.seq = 0
        # Push channels (events.watch): channel id -> {calendar, address, token, resourceId, expiration, number}
        self.channels: dict[str, dict] = {}
        self._changed_calendars: set[str] = set()
        self.notifications: list[dict] = []  # what was delivered: headers and the answer's status
        # before_request(method, path): run in the server's thread as an API call (or a batch)
        # arrives, before it is handled - what someone else does while it is in flight.
        self.before_request = None
        self._httpd: ThreadingHTTPServer | None = None

    # lifecycle

    def start(self) -> GoogleCalendarServer:
        handler = type("Handler", (_Handler,), {"google": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> GoogleCalendarServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._httpd
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def api_endpoint(self) -> str:
        return f"{self.base}/calendar/v3/"

    @property
    def batch_uri(self) -> str:
        return f"{self.base}/batch/calendar/v3"

    @property
    def auth_uri(self) -> str:
        return f"{self.base}/o/oauth2/v2/auth"

    @property
    def token_uri(self) -> str:
        return f"{self.base}/token"

    @property
    def request_count(self) -> int:
        return len(self.requests)

    # administration, as a Workspace admin / the Cloud console would set it up

    def add_user(self, address: str, *, time_zone: str = "UTC") -> Calendar:
        with self.lock:
            address = address.lower()
            self.users.add(address)
            calendar = self.calendars.setdefault(address, Calendar(id=address, summary=address, time_zone=time_zone))
            return calendar

    def add_calendar(self, address: str, summary: str) -> str:
        """Another calendar of the user (Google Calendar: "Create new calendar"), with an id as Google
        gives one ("...@group.calendar.google.com"); its id."""
        with self.lock:
            calendar_id = f"{uuid.uuid4().hex}@group.calendar.google.com"
            self.calendars[calendar_id] = Calendar(id=calendar_id, summary=summary, owner=address.lower())
            return calendar_id

    def add_service_account(self, client_email: str, client_id: str, public_key_pem: bytes) -> None:
        key = serialization.load_pem_public_key(public_key_pem)
        self.service_accounts[client_email] = ServiceAccount(client_email, client_id, key)

    def grant_delegation(self, client_id: str, scopes: list[str]) -> None:
        self.delegations[client_id] = set(scopes)
        self._end_access_tokens(client_id)

    def add_oauth_client(self, client_id: str, client_secret: str) -> OAuthClient:
        self.oauth_clients[client_id] = OAuthClient(client_id, client_secret)
        return self.oauth_clients[client_id]

    def issue_refresh_token(self, client_id: str, user: str, scopes: list[str]) -> str:
        token = "1//" + uuid.uuid4().hex
        self.oauth_clients[client_id].refresh_tokens[token] = (user.lower(), set(scopes))
        return token

    def revoke(self, refresh_token: str) -> None:
        for client in self.oauth_clients.values():
            client.refresh_tokens.pop(refresh_token, None)
        self._end_access_tokens(refresh_token)

    def _end_access_tokens(self, grant: str) -> None:
        for token in [token for token, source in self.granted_by.items() if source == grant]:
            self.tokens.pop(token, None)
            self.granted_by.pop(token, None)

    # faults

    def fail_next(
        self,
        status: int | str,
        reason: str = "",
        *,
        times: int = 1,
        retry_after: str | None = None,
        path: str = "",
        skip: int = 0,
        in_batch: bool = False,
    ) -> None:
        """The next `times` API calls (whose path contains `path`) fail with status/reason, or with
        "drop" (connection closed unserved) / "drop_after" (served, the answer lost); `skip`: after
        that many such calls are served (the second page of a listing: skip=1). `in_batch`: calls
        inside a batch request instead, each answered in its own part (Calendar API batch guide)."""
        for _ in range(times):
            self.faults.append(
                {
                    "status": status,
                    "reason": reason,
                    "retry_after": retry_after,
                    "path": path,
                    "skip": skip,
                    "in_batch": in_batch,
                }
            )

    def refuse_event(self, user: str, event_id: str, *, reads: bool = False, reason: str = "") -> None:
        """Google refuses this one event from now on (403): its changes, with the reason the Calendar
        API's error guide gives for an event only its organiser may change (forbiddenForNonOrganizer);
        with `reads`, reading it too (403 forbidden: the guide names no reason of its own for that).
        `reason`: another one instead."""
        with self.lock:
            kind = "read" if reads else "write"
            chosen = reason or ("forbidden" if reads else "forbiddenForNonOrganizer")
            self.calendars[user.lower()].refused[event_id] = (chosen, kind)

    def drop_write_right(self, user: str) -> None:
        """The account may only read the user's calendar from now on: calendarList gives accessRole
        "reader", and every event write is refused with 403 requiredAccessLevel ("You need to have
        writer access to this calendar.", Calendar API "Handle API errors")."""
        with self.lock:
            self.calendars[user.lower()].access_role = "reader"

    def expire_sync_tokens(self, user: str) -> None:
        """Google dropped every sync token of the calendar (410 fullSyncRequired on the next use)."""
        with self.lock:
            self.calendars[user.lower()].oldest_token = self._bump()

    # seeding and inspecting, as another client (Google Calendar on a phone) would

    def _bump(self) -> int:
        self.seq = next(self._seq)
        return self.seq

    def _stamp(self, event: dict) -> dict:
        seq = self._bump()
        event["etag"] = f'"{3181161784712000 + seq}"'
        event["updated"] = rfc3339(datetime.now(UTC))
        event["_seq"] = seq
        self._changed_calendars.add(event.get("organizer", {}).get("email") or "")
        return event

    def phone_insert(self, user: str, **resource) -> dict:
        with self.lock:
            event = _public(self._insert(self.calendars[user.lower()], resource, user.lower()))
            self._notify_changes()
            return event

    def phone_patch(self, user: str, event_id: str, **changes) -> dict:
        with self.lock:
            event = _public(self._patch(self.calendars[user.lower()], event_id, changes, None))
            self._notify_changes()
            return event

    def phone_delete(self, user: str, event_id: str) -> None:
        with self.lock:
            self._delete(self.calendars[user.lower()], event_id)
            self._notify_changes()

    def organise(self, user: str, event_id: str, organizer: str) -> None:
        """The event in `user`'s calendar is a copy of one `organizer` owns (an invitation they
        sent from elsewhere): organizer.self false, as Google shows an attendee's copy."""
        with self.lock:
            self.calendars[user.lower()].events[event_id]["organizer"] = {"email": organizer, "self": False}

    def events(self, user: str, *, with_cancelled: bool = False) -> list[dict]:
        """Events of the calendar as stored (masters, exceptions; cancelled ones only if asked)."""
        with self.lock:
            calendar = self.calendars[user.lower()]
            return [
                _public(event)
                for event in calendar.events.values()
                if with_cancelled or event.get("status") != "cancelled"
            ]

    def event(self, user: str, event_id: str) -> dict | None:
        with self.lock:
            found = self.calendars[user.lower()].events.get(event_id)
            return _public(found) if found else None

    # the token endpoint

    def token(self, form: dict[str, str]) -> tuple[int, dict]:
        self.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
        if self.token_answers:
            return self.token_answers.popleft()
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            return self._jwt_grant(form.get("assertion", ""))
        if grant == "refresh_token":
            return self._refresh_grant(form)
        if grant == "authorization_code":
            return self._code_grant(form)
        return 400, {"error": "unsupported_grant_type", "error_description": f"Invalid grant_type: {grant}"}

    def _grant(self, user: str, scopes: set[str], *, source: str = "") -> tuple[int, dict]:
        token = "ya29." + uuid.uuid4().hex
        self.tokens[token] = (user, scopes)
        self.granted_by[token] = source
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": " ".join(scopes)}

    def _jwt_grant(self, assertion: str) -> tuple[int, dict]:
        def invalid(description: str) -> tuple[int, dict]:
            return 400, {"error": "invalid_grant", "error_description": description}

        try:
            header_b64, claims_b64, signature_b64 = assertion.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            signature = b64url_decode(signature_b64)
        except ValueError:
            return invalid("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
        if header.get("alg") != "RS256":
            return invalid("Invalid JWT Signature.")
        account = self.service_accounts.get(claims.get("iss", ""))
        if account is None:
            return invalid("Invalid grant: account not found")
        try:
            account.public_key.verify(
                signature, f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return invalid("Invalid JWT Signature.")
        now = clock.time()
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE or not (iat - 300 <= now <= exp) or exp - iat > 3600:
            return invalid("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        scopes = set((claims.get("scope") or "").split())
        if not scopes:
            return 400, {"error": "invalid_scope", "error_description": "Empty or missing scope not allowed."}
        subject = (claims.get("sub") or "").lower()
        if subject:
            if not scopes <= self.delegations.get(account.client_id, set()):
                return 401, {
                    "error": "unauthorized_client",
                    "error_description": "Client is unauthorized to retrieve access tokens using this method, or "
                    "client not authorized for any of the scopes requested.",
                }
            if subject not in self.users:
                return invalid("Invalid email or User ID")
            return self._grant(subject, scopes, source=account.client_id)
        return self._grant(account.client_email, scopes)

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """The consent screen (OAuth 2.0 for web server apps, step 2): (status, redirect address or
        error text). The signed-in user allows or denies; allowed, the browser goes back to
        redirect_uri with a single-use code and the state."""
        client = self.oauth_clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None:
            return 401, "Error 401: invalid_client"
        if query.get("response_type") != "code" or not redirect_uri:
            return 400, "Error 400: invalid_request"
        state = query.get("state")
        tail = f"&state={quote(state)}" if state else ""
        if not self.consent or not self.signed_in_user:
            return 302, f"{redirect_uri}?error=access_denied{tail}"
        code = "4/" + uuid.uuid4().hex
        self._codes[code] = {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "user": self.signed_in_user.lower(),
            "scopes": set((query.get("scope") or "").split()),
            "offline": query.get("access_type") == "offline",
            "challenge": (query.get("code_challenge"), query.get("code_challenge_method")),
        }
        return 302, f"{redirect_uri}?code={quote(code)}&scope={quote(query.get('scope') or '')}{tail}"

    def _code_grant(self, form: dict[str, str]) -> tuple[int, dict]:
        client = self.oauth_clients.get(form.get("client_id", ""))
        if client is None or client.client_secret != form.get("client_secret"):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        found = self._codes.pop(form.get("code", ""), None)  # single use
        if found is None or found["client_id"] != client.client_id:
            return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
        if found["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}
        challenge, method = found["challenge"]
        if challenge and not _pkce_verifies(form.get("code_verifier", ""), challenge, method):
            return 400, {"error": "invalid_grant", "error_description": "Invalid code verifier."}
        status, answer = self._grant(found["user"], found["scopes"])
        if found["offline"]:
            answer["refresh_token"] = self.issue_refresh_token(client.client_id, found["user"], list(found["scopes"]))
            self.granted_by[answer["access_token"]] = answer["refresh_token"]
        return status, answer

    def _refresh_grant(self, form: dict[str, str]) -> tuple[int, dict]:
        client = self.oauth_clients.get(form.get("client_id", ""))
        if client is None or client.client_secret != form.get("client_secret"):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        found = client.refresh_tokens.get(form.get("refresh_token", ""))
        if found is None:
            return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        user, scopes = found
        return self._grant(user, scopes, source=form.get("refresh_token", ""))

    # the API

    def handle(
        self, method: str, target: str, headers, body: bytes, *, in_batch: bool = False
    ) -> tuple[int, dict, dict]:
        """(status, headers, JSON body) of one API call; errors in Google's JSON form."""
        url = urlsplit(target)
        path = unquote(url.path)
        query: dict = {name: values[-1] for name, values in parse_qs(url.query).items()}
        if "eventTypes" in query:  # a repeated parameter (events.list reference)
            query["eventTypes"] = parse_qs(url.query)["eventTypes"]
        try:
            with self.lock:
                self._fault(path, in_batch=in_batch)
                user, scopes = self._authorise(headers)
                if not self.api_enabled:
                    raise ApiError(
                        403,
                        "accessNotConfigured",
                        "Google Calendar API has not been used in project 123456 before or it is disabled. Enable "
                        "it by visiting https://console.developers.google.com/apis/api/calendar-json.googleapis.com"
                        "/overview?project=123456 then retry.",
                        domain="usageLimits",
                    )
                payload = json.loads(body) if body else {}
                status, answer = self._route(method, path, query, payload, headers, user, scopes)
                self._notify_changes()
        except ApiError as error:
            return error.code, error.headers, error.body()
        extra = {"ETag": answer["etag"]} if isinstance(answer, dict) and "etag" in answer else {}
        return status, extra, answer

    def take_drop(self, path: str) -> str | None:
        """ "drop" (closed before the call is served) or "drop_after" (served, answer lost), when a
        queued or random fault of that kind is due for this path."""
        with self.lock:
            for fault in list(self.faults):
                if fault["path"] in path and fault["status"] in ("drop", "drop_after"):
                    self.faults.remove(fault)
                    self.faults_served[fault["status"]] += 1
                    return fault["status"]
                if fault["path"] in path:
                    return None
            if self.fault_rate and self.random.random() < self.fault_rate:
                kind = self.random.choice(self.fault_kinds)
                if kind in ("drop", "drop_after"):
                    self.faults_served[kind] += 1
                    return kind
                self.faults.appendleft({"status": int(kind), "reason": "", "retry_after": None, "path": path})
        return None

    def calm(self) -> None:
        """No more faults, queued or random."""
        with self.lock:
            self.faults.clear()
            self.fault_rate = 0.0

    def _fault(self, path: str, *, in_batch: bool = False) -> None:
        for fault in list(self.faults):
            if fault.get("in_batch", False) != in_batch:
                continue
            if fault["path"] in path and fault.get("skip"):
                fault["skip"] -= 1
                return
            if fault["path"] in path and isinstance(fault["status"], int):
                self.faults.remove(fault)
                self.faults_served[str(fault["status"])] += 1
                headers = {"Retry-After": fault["retry_after"]} if fault["retry_after"] else {}
                reason = fault["reason"] or {429: "rateLimitExceeded", 503: "backendError"}.get(fault["status"], "")
                domain = "usageLimits" if "RateLimit" in reason else "global"
                raise ApiError(fault["status"], reason, f"Fault: {reason}", domain=domain, headers=headers)

    def _authorise(self, headers) -> tuple[str, set[str]]:
        value = headers.get("Authorization") or ""
        found = self.tokens.get(value.removeprefix("Bearer ").strip()) if value.startswith("Bearer ") else None
        if found is None:
            raise ApiError(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        return found

    def _calendar(self, calendar_id: str, user: str, scopes: set[str], *, write: bool, events: bool) -> Calendar:
        wanted = {CALENDAR_SCOPE} | ({EVENTS_SCOPE} if events else set())
        if not write:
            wanted |= {f"{CALENDAR_SCOPE}.readonly"} | ({f"{EVENTS_SCOPE}.readonly"} if events else set())
        if not scopes & wanted:
            raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        calendar_id = user if calendar_id == "primary" else calendar_id.lower()
        calendar = self.calendars.get(calendar_id)
        # Only the owner's own calendars in this server: anyone else's is not found, as for Google.
        if calendar is None or (calendar.owner or calendar.id) != user:
            raise ApiError(404, "notFound", "Not Found")
        return calendar

    def _route(self, method, path, query, payload, headers, user, scopes) -> tuple[int, dict]:
        parts = [p for p in path.removeprefix("/calendar/v3/").split("/") if p]
        if parts == ["channels", "stop"] and method == "POST":
            channel = self.channels.get(payload.get("id", ""))
            if channel is None or channel["resourceId"] != payload.get("resourceId"):
                raise ApiError(404, "notFound", f"Channel '{payload.get('id')}' not found for project '123456'")
            del self.channels[payload["id"]]
            return 204, None
        if len(parts) == 4 and parts[2:] == ["events", "watch"] and method == "POST":
            calendar = self._calendar(parts[1], user, scopes, write=False, events=True)
            return 200, self._watch(calendar, payload)
        if parts == ["users", "me", "calendarList"] and method == "GET":
            # CalendarList: list (calendar v3): the user's calendars, primary first, maxResults a page
            # ("default 100 entries", at most 250), the next page named by nextPageToken.
            self._calendar("primary", user, scopes, write=False, events=False)  # the same scope check
            owned = [c for c in self.calendars.values() if (c.owner or c.id) == user]
            entries = [
                {
                    "kind": "calendar#calendarListEntry",
                    "id": c.id,
                    "summary": c.summary,
                    "timeZone": c.time_zone,
                    "accessRole": c.access_role,
                    **({"primary": True} if c.id == user else {}),
                }
                for c in sorted(owned, key=lambda c: c.id != user)
            ]
            size = min(int(query.get("maxResults", 100)), 250)
            offset = int(query.get("pageToken", 0))
            answer = {"kind": "calendar#calendarList", "items": entries[offset : offset + size]}
            if offset + size < len(entries):
                answer["nextPageToken"] = str(offset + size)
            return 200, answer
        if len(parts) == 4 and parts[:3] == ["users", "me", "calendarList"] and method == "GET":
            # CalendarList: get: the entry of one calendar of the user's list, with its accessRole.
            calendar = self._calendar(unquote(parts[3]), user, scopes, write=False, events=False)
            entry = {"kind": "calendar#calendarListEntry", "id": calendar.id, "summary": calendar.summary}
            return 200, {**entry, "timeZone": calendar.time_zone, "accessRole": calendar.access_role}
        if len(parts) == 2 and parts[0] == "calendars" and method == "GET":
            calendar = self._calendar(parts[1], user, scopes, write=False, events=False)
            return 200, {
                "kind": "calendar#calendar",
                "etag": f'"{calendar.id}"',
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone,
            }
        if len(parts) < 3 or parts[0] != "calendars" or parts[2] != "events":
            raise ApiError(404, "notFound", "Not Found")
        write = method not in ("GET",)
        calendar = self._calendar(parts[1], user, scopes, write=write, events=True)
        if write and calendar.access_role == "reader":
            raise ApiError(403, "requiredAccessLevel", "You need to have writer access to this calendar.")
        refused = calendar.refused.get(parts[3]) if len(parts) == 4 else None
        if refused and (write or refused[1] == "read"):
            texts = {"forbiddenForNonOrganizer": "Shared properties can only be changed by the organizer of the event."}
            raise ApiError(403, refused[0], texts.get(refused[0], "Forbidden"))
        if write:
            self.send_updates.append(query.get("sendUpdates"))
        if len(parts) == 3:
            if method == "GET":
                return 200, self._list(calendar, query)
            if method == "POST":
                return 200, _public(self._insert(calendar, payload, user))
        elif len(parts) == 4:
            event_id = parts[3]
            if method == "GET":
                event = self._get(calendar, event_id)
                if event is None:
                    raise ApiError(404, "notFound", "Not Found")
                # A deleted event is still returned, with status "cancelled" (events resource).
                return 200, _public(event)
            if method in ("PATCH", "PUT"):
                self._check_etag(calendar, event_id, headers)
                replace = method == "PUT"
                return 200, _public(self._patch(calendar, event_id, payload, user, replace=replace))
            if method == "DELETE":
                self._check_etag(calendar, event_id, headers)
                self._delete(calendar, event_id)
                return 204, None
        raise ApiError(405, "methodNotAllowed", "Method not allowed")

    # events

    def _get(self, calendar: Calendar, event_id: str) -> dict | None:
        """A stored event, or an unmaterialised instance of a recurring master ("<id>_<start>")."""
        if event_id in calendar.events:
            return calendar.events[event_id]
        master_id, _, suffix = event_id.rpartition("_")
        master = calendar.events.get(master_id)
        if not master or not master.get("recurrence") or master.get("status") == "cancelled":
            return None
        for start in _occurrences(master, None, None):
            if instance_suffix(start) == suffix:
                return _instance(master, start)
        return None

    def _check_etag(self, calendar: Calendar, event_id: str, headers) -> None:
        wanted = headers.get("If-Match")
        event = calendar.events.get(event_id)
        if wanted and event is not None and wanted != "*" and wanted != event["etag"]:
            raise ApiError(412, "conditionNotMet", "Precondition Failed")

    def _insert(self, calendar: Calendar, resource: dict, user: str) -> dict:
        resource = {k: v for k, v in copy.deepcopy(resource).items() if k not in READ_ONLY}
        event_id = resource.get("id") or base64.b32hexencode(uuid.uuid4().bytes).decode().lower().rstrip("=")
        if not EVENT_ID.match(event_id):
            raise ApiError(400, "invalid", "Invalid resource id value.")
        if event_id in calendar.events:
            raise ApiError(409, "duplicate", "The requested identifier already exists.")
        _check_times(resource)
        if resource.get("eventType", "default") not in EVENT_TYPES:
            raise ApiError(400, "invalid", "Invalid event type.")
        now = rfc3339(datetime.now(UTC))
        event = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"{self.base}/event?eid={event_id}",
            "created": now,
            "iCalUID": resource.pop("iCalUID", None) or f"{event_id}@google.com",
            "creator": {"email": user, "self": True},
            "organizer": {"email": calendar.id, "self": True},
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
            **resource,
        }
        event["id"] = event_id
        for attendee in event.get("attendees") or []:
            attendee.setdefault("responseStatus", "needsAction")
        calendar.events[event_id] = self._stamp(event)
        self._deliver_invitations(calendar, event)
        return event

    def _deliver_invitations(self, calendar: Calendar, event: dict) -> None:
        """Events: insert puts the event in every attendee's calendar, whatever `sendUpdates` says
        (that governs e-mails only): the same id and iCalUID, organised by the inserting calendar
        (organizer.self false there), the attendee's own line marked self and "needsAction" until
        they answer (Calendar API "Events" resource, attendees[].responseStatus)."""
        for attendee in event.get("attendees") or []:
            other = self.calendars.get((attendee.get("email") or "").lower())
            if other is None or other is calendar or event["id"] in other.events:
                continue
            invited = copy.deepcopy(event)
            invited["organizer"] = {"email": calendar.id, "self": False}
            for line in invited["attendees"]:
                if (line.get("email") or "").lower() == other.id.lower():
                    line["self"] = True
            other.events[event["id"]] = self._stamp(invited)
            self._changed_calendars.add(other.id)

    def _patch(self, calendar: Calendar, event_id: str, changes: dict, user, *, replace: bool = False) -> dict:
        event = self._get(calendar, event_id)
        if event is None:
            raise ApiError(404, "notFound", "Not Found")
        if event.get("status") == "cancelled" and not changes.get("status"):
            raise ApiError(410, "deleted", "Resource has been deleted")
        changes = {k: v for k, v in copy.deepcopy(changes).items() if k not in READ_ONLY and k != "id"}
        if changes.get("eventType", event.get("eventType", "default")) != event.get("eventType", "default"):
            raise ApiError(400, "invalid", "The event type cannot be changed.")
        if replace:
            kept = {k: v for k, v in event.items() if k in READ_ONLY or k in ("id", "_seq", "originalStartTime")}
            updated = {**kept, **changes}
        else:
            updated = _merge(copy.deepcopy(event), changes)
        for side in ("start", "end"):  # an EventDateTime is replaced whole; null members are absent
            if isinstance(updated.get(side), dict):
                updated[side] = {k: v for k, v in updated[side].items() if v is not None}
        _check_times(updated)
        if any(k in changes for k in ("start", "end", "summary", "location", "recurrence")):
            updated["sequence"] = updated.get("sequence", 0) + 1
        calendar.events[event_id] = self._stamp(updated)
        return updated

    def _delete(self, calendar: Calendar, event_id: str) -> None:
        event = self._get(calendar, event_id)
        if event is None:
            raise ApiError(404, "notFound", "Not Found")
        if event.get("status") == "cancelled":
            raise ApiError(410, "deleted", "Resource has been deleted")
        if event.get("recurringEventId"):
            # A cancelled occurrence stays as an exception of its series.
            event = {**event, "status": "cancelled"}
            calendar.events[event_id] = self._stamp(event)
            return
        tombstone = {k: event[k] for k in ("kind", "id", "iCalUID", "organizer") if k in event}
        calendar.events[event_id] = self._stamp({**tombstone, "status": "cancelled"})
        for other_id, other in list(calendar.events.items()):
            if other.get("recurringEventId") == event_id:
                calendar.events[other_id] = self._stamp({**other, "status": "cancelled"})

    def _list(self, calendar: Calendar, query: dict) -> dict:
        if query.get("singleEvents", "false") == "true":
            raise ApiError(400, "invalid", "singleEvents=true is not served by this test server.")
        token = query.get("syncToken")
        page = query.get("pageToken")
        if page:
            state = json.loads(b64url_decode(page))
        else:
            if token and any(query.get(n) for n in ("timeMin", "timeMax", "iCalUID", "q", "updatedMin")):
                raise ApiError(400, "invalid", "Sync token cannot be used with other filters.")
            since = None
            if token:
                try:
                    since = int(b64url_decode(token).decode().removeprefix("sync:"))
                except ValueError as error:
                    raise ApiError(400, "invalid", "Invalid sync token value.") from error
                if since < calendar.oldest_token:
                    raise ApiError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
            state = {"since": since, "snapshot": self.seq, "offset": 0, "query": query}
        query = state["query"]
        since = state["since"]
        show_deleted = since is not None or query.get("showDeleted") == "true"
        time_min = _query_time(query.get("timeMin"))
        time_max = _query_time(query.get("timeMax"))
        ical_uid = query.get("iCalUID")
        types = query.get("eventTypes")
        if types and not set(types) <= EVENT_TYPES:
            raise ApiError(400, "invalid", "Invalid value for eventTypes.")
        chosen = []
        for event in sorted(calendar.events.values(), key=lambda e: e["_seq"]):
            if since is not None and event["_seq"] <= since:
                continue
            if types and event.get("eventType", "default") not in types:
                continue
            if ical_uid and event.get("iCalUID") != ical_uid:
                continue
            cancelled = event.get("status") == "cancelled"
            # showDeleted=false still lists cancelled instances of recurring events (events.list docs).
            if cancelled and not show_deleted and not event.get("recurringEventId"):
                continue
            if since is None and not cancelled and not _overlaps(event, time_min, time_max):
                continue
            chosen.append(_public(event))
        size = min(int(query.get("maxResults", 250)), 2500)
        offset = state["offset"]
        items = chosen[offset : offset + size]
        answer = {
            "kind": "calendar#events",
            "etag": f'"{state["snapshot"]}"',
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "updated": rfc3339(datetime.now(UTC)),
            "items": items,
        }
        if offset + size < len(chosen):
            next_state = {**state, "offset": offset + size}
            answer["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(next_state).encode()).decode().rstrip("=")
        else:
            # Changes made while the client pages through come with the next sync: token = snapshot.
            answer["nextSyncToken"] = base64.urlsafe_b64encode(f"sync:{state['snapshot']}".encode()).decode()
        return answer

    # push notifications (developers.google.com/calendar/api/guides/push)

    def _watch(self, calendar: Calendar, body: dict) -> dict:
        if body.get("type") not in ("web_hook", "webhook"):
            raise ApiError(400, "invalid", "Invalid channel type.")
        if not body.get("id") or not body.get("address"):
            raise ApiError(400, "required", "Required channel id and address.")
        if body["id"] in self.channels:
            raise ApiError(400, "channelIdNotUnique", f"Channel id {body['id']} not unique")
        ttl = int((body.get("params") or {}).get("ttl", 604800))
        expiration = int((clock.time() + min(ttl, 30 * 86400)) * 1000)
        channel = {
            "calendar": calendar.id,
            "address": body["address"],
            "token": body.get("token"),
            "resourceId": uuid.uuid4().hex,
            "expiration": expiration,
            "number": 0,
        }
        self.channels[body["id"]] = channel
        self._deliver(body["id"], "sync")  # every new channel first gets a "sync" message
        return {
            "kind": "api#channel",
            "id": body["id"],
            "resourceId": channel["resourceId"],
            "resourceUri": f"{self.api_endpoint}calendars/{calendar.id}/events?alt=json",
            "token": body.get("token"),
            "expiration": str(expiration),
        }

    def _deliver(self, channel_id: str, state: str) -> None:
        """POST the notification to the channel's address from another thread, as Google does."""
        channel = self.channels[channel_id]
        channel["number"] += 1
        headers = {
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Message-Number": str(channel["number"]),
            "X-Goog-Resource-ID": channel["resourceId"],
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-URI": f"{self.api_endpoint}calendars/{channel['calendar']}/events?alt=json",
            "X-Goog-Channel-Expiration": datetime.fromtimestamp(channel["expiration"] / 1000, UTC).strftime(
                "%a, %d %b %Y %H:%M:%S GMT"
            ),
            "Content-Length": "0",
        }
        if channel["token"]:
            headers["X-Goog-Channel-Token"] = channel["token"]

        def post() -> None:
            parts = urlsplit(channel["address"])
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
            try:
                connection.request("POST", parts.path + (f"?{parts.query}" if parts.query else ""), b"", headers)
                status = connection.getresponse().status
            except OSError as error:
                status = repr(error)
            finally:
                connection.close()
            with self.lock:
                self.notifications.append({**headers, "status": status})

        threading.Thread(target=post, daemon=True).start()

    def _notify_changes(self) -> None:
        """After a call: an "exists" message on every live channel of a calendar that changed."""
        changed, self._changed_calendars = self._changed_calendars, set()
        now_ms = clock.time() * 1000
        for channel_id, channel in list(self.channels.items()):
            if channel["calendar"] in changed and channel["expiration"] > now_ms:
                self._deliver(channel_id, "exists")

    # batch

    def batch(self, content_type: str, body: bytes, headers) -> tuple[int, dict, bytes]:
        message = email.message_from_bytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.compat32
        )
        if not message.is_multipart():
            return 400, {"Content-Type": "application/json"}, b'{"error": {"code": 400, "message": "Not multipart"}}'
        parts = message.get_payload()
        if len(parts) > MAX_BATCH:
            error = ApiError(400, "invalid", f"A batch takes at most {MAX_BATCH} calls.")
            return 400, {"Content-Type": "application/json"}, json.dumps(error.body()).encode()
        boundary = f"batch_{uuid.uuid4().hex}"
        out = []
        for part in parts:
            raw = part.get_payload(decode=True) or b""
            head, _, inner_body = raw.partition(b"\r\n\r\n")
            if not _ and b"\n\n" in raw:
                head, _, inner_body = raw.partition(b"\n\n")
            lines = head.decode().splitlines()
            method, target, _version = lines[0].split(" ", 2)
            inner = email.message_from_string("\r\n".join(lines[1:]) + "\r\n\r\n")
            if "Authorization" not in inner and headers.get("Authorization"):
                inner["Authorization"] = headers["Authorization"]
            self.batch_parts.append(f"{method} {unquote(urlsplit(target).path)}")
            status, extra, answer = self.handle(method, target, inner, inner_body.strip(), in_batch=True)
            content_id = (part.get("Content-ID") or "<x+0>").strip("<>")
            text = json.dumps(answer) if answer is not None else ""
            extra_lines = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{content_id}>\r\n\r\n"
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
                f"Content-Type: application/json; charset=UTF-8\r\n{extra_lines}Content-Length: {len(text.encode())}"
                f"\r\n\r\n{text}\r\n"
            )
        payload = ("".join(out) + f"--{boundary}--\r\n").encode()
        return 200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, payload


_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
_REASONS |= {404: "Not Found", 409: "Conflict", 410: "Gone", 412: "Precondition Failed", 429: "Too Many Requests"}


def _pkce_verifies(verifier: str, challenge: str, method: str | None) -> bool:
    """RFC 7636 section 4.6: S256 is BASE64URL(SHA256(verifier)) without padding; plain is the verifier."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=") == challenge
    return verifier == challenge


def _public(event: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}


def _merge(target: dict, changes: dict) -> dict:
    """Patch semantics: objects merge field by field, arrays and values replace, null clears."""
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict) and key not in ("start", "end"):
            target[key] = _merge(target[key], value)
        else:
            target[key] = value
    return target


def _check_times(event: dict) -> None:
    if event.get("status") == "cancelled":
        return
    if "start" not in event or "end" not in event:
        raise ApiError(400, "required", "Missing end time." if "start" in event else "Missing start time.")
    for side in ("start", "end"):
        value = event[side]
        if (
            value.get("dateTime")
            and not re.search(r"(Z|[+-]\d\d:\d\d)$", value["dateTime"])
            and not value.get("timeZone")
        ):
            raise ApiError(400, "invalid", "Missing time zone definition for start time.")
        if value.get("timeZone"):
            try:
                ZoneInfo(value["timeZone"])
            except (KeyError, ValueError) as error:
                raise ApiError(400, "timeRangeEmpty", "Invalid time zone definition for start time.") from error
    if event.get("recurrence") and not event["start"].get("timeZone") and not event["start"].get("date"):
        raise ApiError(400, "invalid", "Missing time zone definition for start time.")
    if as_utc(parse_time(event["end"])) < as_utc(parse_time(event["start"])):
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")


def _query_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ApiError(400, "badRequest", "Bad Request")
    return moment


def _occurrences(master: dict, time_min: datetime | None, time_max: datetime | None, limit: int = 2000):
    """Starts the master's RRULE/RDATE/EXDATE give (RFC 5545, with dateutil), on its wall clock."""
    start = parse_time(master["start"], master["start"].get("timeZone") or "UTC")
    all_day = isinstance(start, date) and not isinstance(start, datetime)
    zone = ZoneInfo(master["start"].get("timeZone") or "UTC")
    first = datetime(start.year, start.month, start.day) if all_day else start.astimezone(zone)
    lines = master.get("recurrence") or []
    text = "\n".join(line for line in lines if not line.upper().startswith("RDATE"))
    # Timed series repeat on the wall clock of the start's zone; EXDATE;TZID=... resolves by name.
    rules = rrule.rrulestr(text, dtstart=first, forceset=True, tzids=ZoneInfo)
    # dateutil refuses RDATE;TZID=..., which Google takes (RFC 5545 3.8.5.2): the extra starts by hand.
    for line in lines:
        if line.upper().startswith("RDATE"):
            for extra in _rdate_values(line, zone, all_day):
                rules.rdate(extra)
    for count, moment in enumerate(rules):
        value = moment.date() if all_day else moment.astimezone(zone)
        if time_max is not None and as_utc(value) >= time_max:
            return
        if count >= limit:
            return
        yield value


def _rdate_values(line: str, zone: ZoneInfo, all_day: bool) -> list[datetime]:
    """The starts of one RDATE line: naive days for an all-day series, else aware datetimes."""
    name, _, values = line.partition(":")
    params = dict(part.split("=", 1) for part in name.split(";")[1:] if "=" in part)
    if params.get("VALUE", "").upper() == "PERIOD":
        values = ",".join(value.split("/")[0] for value in values.split(","))
    tz = ZoneInfo(params["TZID"]) if "TZID" in params else zone
    found = []
    for text in filter(None, (value.strip() for value in values.split(","))):
        if len(text) == 8:
            day = datetime.strptime(text, "%Y%m%d")
            found.append(day if all_day else day.replace(tzinfo=tz))
            continue
        moment = datetime.strptime(text.rstrip("Z"), "%Y%m%dT%H%M%S").replace(tzinfo=UTC if text.endswith("Z") else tz)
        found.append(moment.astimezone(zone).replace(tzinfo=None) if all_day else moment)
    return found


def _instance(master: dict, start: datetime | date) -> dict:
    first = parse_time(master["start"])
    length = as_utc(parse_time(master["end"])) - as_utc(first)
    zone = master["start"].get("timeZone")
    if isinstance(start, datetime):
        original = {"dateTime": start.isoformat(), **({"timeZone": zone} if zone else {})}
        end = {"dateTime": (start + length).isoformat(), **({"timeZone": zone} if zone else {})}
    else:
        original = {"date": start.isoformat()}
        end = {"date": (start + timedelta(days=length.days)).isoformat()}
    instance = {k: copy.deepcopy(v) for k, v in master.items() if k not in ("recurrence", "id", "_seq")}
    instance.update(
        id=instance_id(master["id"], start),
        recurringEventId=master["id"],
        originalStartTime=copy.deepcopy(original),
        start=original,
        end=end,
    )
    return instance


def _overlaps(event: dict, time_min: datetime | None, time_max: datetime | None) -> bool:
    """timeMin bounds an event's end (exclusive), timeMax its start (exclusive); a series overlaps
    when one of its occurrences does."""
    if event.get("recurrence"):
        length = as_utc(parse_time(event["end"])) - as_utc(parse_time(event["start"]))
        for start in _occurrences(event, time_min, time_max):
            if time_min is None or as_utc(start) + length > time_min:
                return True
        return False
    start, end = as_utc(parse_time(event["start"])), as_utc(parse_time(event["end"]))
    if event.get("recurringEventId") and event.get("originalStartTime"):
        original = as_utc(parse_time(event["originalStartTime"]))
        start, end = min(start, original), max(end, original + (end - start))
    return (time_max is None or start < time_max) and (time_min is None or end > time_min)


class _Handler(BaseHTTPRequestHandler):
    google: GoogleCalendarServer
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY on each connection: the handler writes the headers and the body in two sends, and
    # with Nagle's algorithm the body waited for the client's delayed ACK (40 ms on Linux) - about
    # 44 ms a request instead of 1-2 (StreamRequestHandler.disable_nagle_algorithm).
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict, payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, headers: dict, answer) -> None:
        payload = b"" if answer is None else json.dumps(answer).encode()
        self._send(status, {"Content-Type": "application/json; charset=UTF-8", **headers}, payload)

    def _dispatch(self) -> None:
        body = self._body()
        path = unquote(urlsplit(self.path).path)
        google = self.google
        if path == "/token" and self.command == "POST":
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            with google.lock:
                status, answer = google.token(form)
            self._json(status, {}, answer)
            return
        if path == "/o/oauth2/v2/auth" and self.command == "GET":
            query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
            with google.lock:
                status, target = google.authorize(query)
            if status == 302:
                self._send(302, {"Location": target}, b"")
            else:
                self._send(status, {"Content-Type": "text/plain"}, target.encode())
            return
        if google.before_request is not None and (path.startswith("/calendar/v3/") or path == "/batch/calendar/v3"):
            google.before_request(self.command, path)
        if path == "/batch/calendar/v3" and self.command == "POST":
            with google.lock:
                google.requests.append(f"POST {path}")
                try:
                    google._fault(path)
                except ApiError as error:
                    self._json(error.code, error.headers, error.body())
                    return
            drop = google.take_drop(path)  # a lost batch answer: fail_next("drop_after", path=BATCH)
            if drop == "drop":
                self.close_connection = True
                return
            status, headers, payload = google.batch(self.headers.get("Content-Type", ""), body, self.headers)
            if drop == "drop_after":  # every call in it is made; the answer never arrives
                self.close_connection = True
                return
            self._send(status, headers, payload)
            return
        if path.startswith("/calendar/v3/"):
            with google.lock:
                google.requests.append(f"{self.command} {path}")
            drop = google.take_drop(path)
            if drop == "drop":
                self.close_connection = True
                return
            if drop == "drop_after":
                google.handle(self.command, self.path, self.headers, body)
                self.close_connection = True
                return
            try:
                status, headers, answer = google.handle(self.command, self.path, self.headers, body)
            except Exception as error:  # a fault of this server shows in the test, not as a dropped line
                traceback.print_exc()
                status, headers, answer = 500, {}, ApiError(500, "backendError", repr(error)).body()
            self._json(status, headers, answer)
            return
        self._json(404, {}, ApiError(404, "notFound", "Not Found").body())

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch
