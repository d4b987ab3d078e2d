"""A local Microsoft identity platform + Microsoft Graph v1.0 server for connector tests.

Follows the published documents, not what our connector sends:
- identity platform: `/{tenant}/v2.0/.well-known/openid-configuration`, the v2.0 token endpoint
  with the client-credentials grant (scope `<graph>/.default`), the authorization-code grant with
  PKCE (S256) and the refresh_token grant; errors as `{"error", "error_description": "AADSTSnnn: ...",
  "error_codes": [nnn]}`.
- Graph v1.0 events: `/users/{id}/calendar/events` (POST, with `transactionId` de-duplicating a
  retried create), `/users/{id}/events/{id}` GET / PATCH / DELETE with If-Match against
  `@odata.etag` (412 on a stale one; an event id names it in the whole mailbox, also under
  /calendars/{id}/events/{id}: microsoft-graph-docs#391), single- and multi-valued extended
  properties kept and returned with `$expand` asking for them by id, the event's `calendar` with
  `$expand=calendar`, categories and reminders kept; `/users/{id}/calendarView/delta` with
  startDateTime/endDateTime, `@odata.nextLink` (skiptoken) to `@odata.deltaLink` (deltatoken),
  deletions as `@removed` with reason "deleted", events changed outside the range as `@removed`
  with reason "changed", a stale delta token answered 410 `SyncStateNotFound`; `$batch` of at
  most 20 requests with a status per item; `Prefer: outlook.timezone` (Windows or IANA name) for
  the zone of returned times; throttling 429 with Retry-After, and at most 4 concurrent requests
  per mailbox (MailboxConcurrency).
State in memory; seed and inspect helpers; fault switches.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import ipaddress
import json
import random
import re
import secrets
import ssl
import tempfile
import threading
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dateutil import rrule as du
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MAX_BATCH = 20
MAX_CONCURRENT_PER_MAILBOX = 4


def make_test_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for IP 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Helpdesk test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def zone_of(name: str | None) -> ZoneInfo:
    """A Graph timeZone value (Windows name, IANA name or UTC) as a ZoneInfo."""
    if not name or name in ("UTC", "Coordinated Universal Time", "tzone://Microsoft/Utc"):
        return ZoneInfo("UTC")
    if name in WINDOWS_TO_OLSON:
        return ZoneInfo(WINDOWS_TO_OLSON[name])
    return ZoneInfo(name)


def parse_graph_time(value: dict) -> dt.datetime:
    """A dateTimeTimeZone ({"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": ...}) as aware UTC."""
    text = value["dateTime"]
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).rstrip("Z")
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone_of(value.get("timeZone"))).astimezone(dt.UTC)


def graph_time(moment: dt.datetime, zone: str) -> dict:
    local = moment.astimezone(zone_of(zone))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone}


def second_form(calendar_id: str) -> str:
    """Another form of a calendar's id naming the same calendar (`calendar_id_second_form`)."""
    return f"AQMk{calendar_id}"


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


@dataclass
class Mailbox:
    address: str
    user_id: str
    calendar_id: str
    events: dict[str, dict] = field(default_factory=dict)  # id -> stored event (times in UTC)
    removed: list[tuple[int, str, dt.datetime, dt.datetime]] = field(default_factory=list)
    allowed: bool = True  # the tenant's application access policy lets the app in
    rest_enabled: bool = True
    # Every calendar of the mailbox, id -> name; the default one ("Calendar") is calendar_id. Each
    # stored event names its calendar under "_calendar".
    calendars: dict[str, str] = field(default_factory=dict)
    # Calendars the app may read but no longer write (a calendar shared read-only, a permission cut
    # to Calendars.Read): `canEdit` false, every write of one of their events refused.
    read_only: set[str] = field(default_factory=set)
    # Events Exchange refuses on their own (an invitation only its organiser may change, a private
    # item of another mailbox): id -> "write" (changes refused) or "read" (reading refused too).
    refused: dict[str, str] = field(default_factory=dict)


# Graph's answer for a refused Outlook item or calendar ("Microsoft Graph error responses": 403
# Forbidden; Exchange's code ErrorAccessDenied and its text).
ACCESS_DENIED = "Access is denied. Check credentials and try again."


@dataclass
class Fault:
    status: int
    code: str
    retry_after: str | None = None
    remaining: int = 1
    path_contains: str = ""


class GraphServer:
    """Start with `with GraphServer(...) as graph:`; `graph.authority` and `graph.base_url` go into the
    connection's options, `graph.ca_path` is the CA the client must trust."""

    def __init__(
        self,
        *,
        tenant: str = "contoso-tenant",
        clients: dict[str, str] | None = None,
        page_size: int = 10,
        redirect_uris: dict[str, list[str]] | None = None,
    ) -> None:
        self.tenant = tenant
        self.clients = dict(clients or {})
        # The web redirect URIs of each app registration (Entra: Authentication > Web > Redirect URIs).
        # An app with an entry here gets the authorize endpoint's check (AADSTS50011); None: unchecked.
        self.redirect_uris: dict[str, list[str]] = {k: list(v) for k, v in (redirect_uris or {}).items()}
        self.consented: set[str] = set(self.clients)
        self.page_size = page_size
        self.max_page_size = 0  # when set, no delta page holds more, whatever the client prefers
        self.mailboxes: dict[str, Mailbox] = {}
        self.tokens: dict[str, str] = {}  # access token -> client id
        self.refresh_tokens: dict[str, str] = {}
        self.refresh_users: dict[str, str] = {}  # refresh token -> the signed-in user (delegated grants)
        self.token_users: dict[str, str] = {}  # access token -> the signed-in user
        self.codes: dict[str, dict] = {}
        self.seq = 0
        self.generation = 0  # delta tokens of an older generation are refused (410): the state was lost
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, path, mailbox) of every HTTP request
        self.batch_items: list[tuple[str, str]] = []
        # Graph requests (and $batch items, whose headers are their own) that did not ask for immutable
        # ids (`Prefer: IdType="ImmutableId"`, "Obtain immutable identifiers for Outlook resources") or for
        # the zone of the times returned (`Prefer: outlook.timezone`, event resource type).
        self.without_immutable_ids: list[str] = []
        self.without_outlook_timezone: list[str] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.delay = 0.0  # seconds each Graph request takes (to see concurrency)
        # Random faults on Graph requests: each request fails with probability fault_rate, of one of
        # fault_kinds: "429" (throttled, Retry-After 0), "503", "500", "drop" (connection closed before
        # the request is handled), "drop_after" (handled, then the connection closed unanswered).
        self.random = random.Random(0)
        self.fault_rate = 0.0
        self.fault_kinds: tuple[str, ...] = ("429", "503", "500", "drop", "drop_after")
        self.faults_served: dict[str, int] = {}
        self.subscriptions: dict[str, dict] = {}
        # Off: only the whole mailbox's events can be subscribed to (what Graph's subscription table
        # lists for Outlook events), a calendar's path is refused with 400.
        self.calendar_subscriptions = True
        self.notified: list[tuple[str, str, str]] = []  # (subscription id, changeType, event id) sent
        self.deliveries: list[tuple[str, int]] = []  # (subscription id, HTTP status of our POST) per delivery
        self.drop_next: list[str] = []  # paths (substrings) whose next request is handled but not answered
        # stall_after(path): the next such request is handled, `processed` is set, and its answer waits
        # until `release` (calm) - a worker killed meanwhile never hears that the change was made.
        self.stall_next: list[str] = []
        # Fault switch for what the Graph documents leave open: a transactionId whose event was deleted
        # answered with that deleted event (its id then 404s), as a de-duplication by id alone would.
        self.transactions_outlive_deletes = False
        # Off: the delta's `@removed` entries carry no `reason` (`_removed`).
        self.removed_reasons = True
        # On: an event's expanded `calendar` names its calendar by a second form of the calendar's id
        # (`second_form`), which GET /users/{id}/calendars/{that form} also takes, answering with the
        # id as the calendar's own GET and the calendar list give it. Container ids are not immutable
        # and come back in more than one form (outlook-immutable-id; microsoft-graph-docs#5580, #6699).
        self.calendar_id_second_form = False
        self.spent_transactions: dict[str, dict] = {}
        # before_request(method, path): run in the server's thread as a request arrives, before it is
        # handled - what someone else does while the request is in flight (a second helpdesk change).
        self.before_request = None
        self.processed = threading.Event()
        self.release = threading.Event()
        self.lock = threading.RLock()
        self._tmp = tempfile.TemporaryDirectory()
        self.ca_path, cert, key = make_test_tls(Path(self._tmp.name))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.root = f"https://127.0.0.1:{self.port}"
        self.authority = f"{self.root}/{tenant}"
        self.base_url = f"{self.root}/v1.0"
        # serve_forever checks for shutdown() every poll_interval (0.5 s by default): every test's
        # teardown waited up to that long for an idle server (as the EWS and Google peers, 0.05 s).
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> GraphServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._tmp.cleanup()

    # --- seed and inspect ---

    def add_mailbox(self, address: str) -> Mailbox:
        box = Mailbox(address=address, user_id=str(uuid.uuid4()), calendar_id=_new_id())
        box.calendars[box.calendar_id] = "Calendar"
        self.mailboxes[address.lower()] = box
        return box

    def add_calendar(self, address: str, name: str) -> str:
        """Another calendar in the mailbox (Outlook: Add calendar > Create blank calendar); its id."""
        with self.lock:
            calendar_id = _new_id()
            self.mailboxes[address.lower()].calendars[calendar_id] = name
            return calendar_id

    def calendar_of(self, address: str, event_id: str) -> str:
        """The id of the calendar an event is in."""
        return self.mailboxes[address.lower()].events[event_id]["_calendar"]

    def calendar_holding(self, address: str, event_id: str) -> str:
        """The id of the calendar an event is in (as `calendar_of`; the EWS peer has the same)."""
        return self.calendar_of(address, event_id)

    def markers_in(self, address: str, calendar_id: str) -> Counter:
        """The value of the helpdesk's marker property (HelpdeskLinkId) of each event of a calendar."""
        return Counter(
            prop["value"]
            for event in self.events(address)
            if event["_calendar"] == calendar_id
            for prop in event.get("singleValueExtendedProperties", [])
            if prop["id"].lower().endswith(" name helpdesklinkid")
        )

    def events(self, address: str) -> list[dict]:
        """The events of a mailbox as stored (times as aware UTC datetimes under "_start"/"_end")."""
        return list(self.mailboxes[address.lower()].events.values())

    def outlook_add(self, address: str, start: dt.datetime, end: dt.datetime, subject: str, **fields) -> dict:
        """An entry the user made in Outlook."""
        zone = fields.pop("time_zone", "UTC")  # Outlook writes Windows zone names
        calendar_id = fields.pop("calendar_id", None)
        body = {
            "subject": subject,
            "start": graph_time(start, zone),
            "end": graph_time(end, zone),
            "body": {"contentType": "html", "content": fields.pop("html", "<p>secret details</p>")},
            "location": {"displayName": fields.pop("location", "Room 1")},
            **fields,
        }
        with self.lock:
            return self._create(self.mailboxes[address.lower()], body, calendar_id)

    def outlook_edit(self, address: str, event_id: str, **fields) -> dict:
        with self.lock:
            return self._patch(self.mailboxes[address.lower()], event_id, fields, None)

    def outlook_delete(self, address: str, event_id: str) -> None:
        with self.lock:
            self._delete(self.mailboxes[address.lower()], event_id)

    def refuse_event(self, address: str, event_id: str, *, reads: bool = False) -> None:
        """Exchange refuses this one event from now on: its changes and deletion (and, with `reads`,
        reading it) are answered 403 ErrorAccessDenied; the calendar and its other events are as before."""
        with self.lock:
            self.mailboxes[address.lower()].refused[event_id] = "read" if reads else "write"

    def drop_write_right(self, address: str, calendar_id: str | None = None) -> None:
        """The app may only read this calendar now (the default one without `calendar_id`): its
        `canEdit` is false and every write of its events is answered 403 ErrorAccessDenied."""
        with self.lock:
            box = self.mailboxes[address.lower()]
            box.read_only.add(calendar_id or box.calendar_id)

    def _refuses(self, box: Mailbox, method: str, calendar_id: str, event_id: str | None = None) -> None:
        """Raise Graph's 403 for a request this mailbox's rights refuse (`refuse_event`, `drop_write_right`)."""
        base_id = event_id.split("_OID_")[0] if event_id else None
        event = box.events.get(base_id) if base_id else None
        where = event["_calendar"] if event is not None else calendar_id
        write = method in ("POST", "PATCH", "DELETE")
        kind = box.refused.get(event_id or "") or box.refused.get(base_id or "")
        if (write and where in box.read_only) or (kind and (write or kind == "read")):
            raise GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)

    def fail(self, status: int, code: str, *, times: int = 1, retry_after: str | None = None, path: str = "") -> None:
        """The next `times` Graph requests (whose path contains `path`) are answered with this error."""
        self.faults.append(Fault(status, code, retry_after, times, path))

    def revoke_sign_ins(self, user: str) -> None:
        """The user's sessions were revoked (Revoke-MgUserSignInSession): refresh tokens stop working."""
        with self.lock:
            for refresh in [r for r, u in self.refresh_users.items() if u == user.lower()]:
                self.refresh_users.pop(refresh)
                self.refresh_tokens.pop(refresh, None)
            for access in [a for a, u in self.token_users.items() if u == user.lower()]:
                self.token_users.pop(access)
                self.tokens.pop(access, None)

    def revoke_consent(self, client_id: str) -> None:
        """The admin withdrew consent: the app's tokens stop working and no new one is issued."""
        with self.lock:
            self.consented.discard(client_id)
            self.tokens = {token: client for token, client in self.tokens.items() if client != client_id}

    def calm(self) -> None:
        """No more random faults; a stalled request is let go."""
        self.fault_rate = 0.0
        self.release.set()

    def stall_after(self, path: str) -> None:
        """The next Graph request whose path contains `path` is handled, then left unanswered until calm()."""
        with self.lock:
            self.release.clear()
            self.processed.clear()
            self.stall_next.append(path)

    def _random_fault(self) -> str | None:
        with self.lock:
            if self.fault_rate and self.random.random() < self.fault_rate:
                kind = self.random.choice(self.fault_kinds)
                self.faults_served[kind] = self.faults_served.get(kind, 0) + 1
                return kind
        return None

    def expire_delta_tokens(self) -> None:
        """Every delta token handed out so far is refused with 410 (the server lost the sync state)."""
        self.generation += 1

    def check_prefer(self, what: str, prefer: str) -> None:
        """Note a Graph request (or batch item) whose Prefer header lacks immutable ids or a time zone."""
        if 'IdType="ImmutableId"' not in prefer:
            self.without_immutable_ids.append(what)
        if "outlook.timezone=" not in prefer:
            self.without_outlook_timezone.append(what)

    def graph_requests(self) -> list[tuple[str, str, str]]:
        return [r for r in self.requests if r[1].startswith("/v1.0/")]

    # --- identity platform ---

    def openid_configuration(self) -> dict:
        return {
            "issuer": f"{self.root}/{self.tenant}/v2.0",
            "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{self.authority}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{self.authority}/oauth2/v2.0/logout",
            "jwks_uri": f"{self.authority}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "tenant_region_scope": "EU",
        }

    def authorize(self, query: dict) -> str:
        """The authorize endpoint for a signed-in user who consents: the redirect URL with a code."""
        client_id = query.get("client_id", "")
        if client_id not in self.clients:
            raise GraphError(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
        redirect_uri = query.get("redirect_uri", "")
        if client_id in self.redirect_uris and not _registered(redirect_uri, self.redirect_uris[client_id]):
            # Entra shows this on its own error page and never sends the browser back to the app.
            raise GraphError(
                400,
                "invalid_request",
                f"AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not match the "
                f"redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in "
                "the request matches one added to your application in the Azure portal.",
            )
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "client_id": client_id,
            "challenge": query.get("code_challenge", ""),
            "method": query.get("code_challenge_method", "plain"),
            "redirect_uri": query.get("redirect_uri", ""),
            "user": query.get("login_hint", ""),
        }
        params = {"code": code, "state": query.get("state", "")}
        return f"{query.get('redirect_uri')}?{urlencode(params)}"

    def token(self, form: dict, auth_header: str | None) -> dict:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if auth_header and auth_header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth_header[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        if client_id not in self.clients:
            raise GraphError(
                400, "unauthorized_client", f"AADSTS700016: Application with identifier '{client_id}' was not found."
            )
        if secret != self.clients[client_id]:
            raise GraphError(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID.",
            )
        grant = form.get("grant_type")
        user = ""
        if grant == "client_credentials":
            scope = form.get("scope", "")
            if not scope.endswith("/.default"):
                raise GraphError(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.")
            if client_id not in self.consented:
                raise GraphError(
                    400,
                    "invalid_grant",
                    "AADSTS65001: The user or administrator has not consented to use the application.",
                )
        elif grant == "authorization_code":
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None or entry["client_id"] != client_id:
                raise GraphError(400, "invalid_grant", "AADSTS70008: The provided authorization code is expired.")
            verifier = form.get("code_verifier", "")
            if entry["method"] == "S256":
                derived = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            else:
                derived = verifier
            if derived != entry["challenge"]:
                raise GraphError(400, "invalid_grant", "AADSTS501481: The Code_Verifier does not match the challenge.")
            if form.get("redirect_uri", "") != entry["redirect_uri"]:  # RFC 6749 section 4.1.3: identical
                raise GraphError(
                    400,
                    "invalid_grant",
                    "AADSTS500117: The reply uri specified in the request does not match the reply uri used when "
                    "requesting the authorization code.",
                )
            user = entry["user"]
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                raise GraphError(
                    400, "invalid_grant", "AADSTS70000: The provided grant has expired due to it being revoked."
                )
            # Refresh tokens rotate: the one used is spent (identity platform docs, "refresh tokens").
            user = self.refresh_users.pop(form["refresh_token"], "")
            self.refresh_tokens.pop(form["refresh_token"])
        else:
            raise GraphError(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        access = secrets.token_urlsafe(32)
        self.tokens[access] = client_id
        answer = {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access}
        if grant != "client_credentials":
            self.token_users[access] = user.lower()
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = client_id
            self.refresh_users[refresh] = user.lower()
            answer.update(refresh_token=refresh, scope=form.get("scope", ""))
        return answer

    # --- Graph ---

    def _box(self, user: str) -> Mailbox:
        box = self.mailboxes.get(unquote(user).lower()) or next(
            (b for b in self.mailboxes.values() if b.user_id == user), None
        )
        if box is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if not box.rest_enabled:
            raise GraphError(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        if not box.allowed:
            raise GraphError(
                403,
                "ErrorAccessDenied",
                "Access to OData is disabled: blocked by tenant configured AppOnly AccessPolicy settings.",
            )
        return box

    def mailbox_key(self, user: str) -> str:
        """The address a /users/{id-or-address} segment names (for per-mailbox accounting)."""
        user = unquote(user).lower()
        return next((b.address.lower() for b in self.mailboxes.values() if b.user_id == user), user)

    def _stamp(self, event: dict) -> None:
        self.seq += 1
        change_key = base64.b64encode(uuid.uuid4().bytes).decode()
        event["changeKey"] = change_key
        event["@odata.etag"] = f'W/"{change_key}"'
        event["lastModifiedDateTime"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event["_seq"] = self.seq

    def _apply(self, event: dict, body: dict) -> None:
        for key, value in body.items():
            if key in ("start", "end"):
                event[f"_{key}"] = parse_graph_time(value)
                event["originalStartTimeZone" if key == "start" else "originalEndTimeZone"] = value.get(
                    "timeZone", "UTC"
                )
            elif key in ("singleValueExtendedProperties", "multiValueExtendedProperties"):
                props = {p["id"].lower(): p for p in event.get(key, [])}
                for prop in value:
                    props[prop["id"].lower()] = {"id": prop["id"], "value": prop["value"]}
                event[key] = list(props.values())
            elif key in ("id", "changeKey", "@odata.etag", "createdDateTime", "lastModifiedDateTime", "type"):
                continue
            else:
                event[key] = value

    def _create(self, box: Mailbox, body: dict, calendar_id: str | None = None) -> dict:
        transaction = body.get("transactionId")
        if transaction:
            for existing in box.events.values():
                if existing.get("transactionId") == transaction:
                    return existing
            if self.transactions_outlive_deletes and transaction in self.spent_transactions:
                return self.spent_transactions[transaction]
        event = {
            "id": _new_id(),
            "createdDateTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "type": "singleInstance",
            "subject": "",
            "body": {"contentType": "text", "content": ""},
            "location": {"displayName": ""},
            "isAllDay": False,
            "sensitivity": "normal",
            "showAs": "busy",
            "isReminderOn": True,
            "reminderMinutesBeforeStart": 15,
            "categories": [],
            "attendees": [],
            "iCalUId": "040000008200E00074C5B7101A82E008" + uuid.uuid4().hex,
        }
        self._apply(event, body)
        # Read-only (Graph "event resource type"): the mailbox that creates an event organises it.
        event.update(
            isOrganizer=True,
            organizer={"emailAddress": {"name": box.address, "address": box.address}},
            responseStatus={"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        )
        if event.get("recurrence"):
            event.update(type="seriesMaster", _exceptions={}, _cancelled={})
        event["_calendar"] = calendar_id or box.calendar_id
        self._stamp(event)
        box.events[event["id"]] = event
        self._notify(box, "created", event["id"], event["_calendar"])
        self._deliver_invitations(box, event)
        return event

    def _deliver_invitations(self, box: Mailbox, event: dict) -> None:
        """Graph "Create event": the server sends an invitation to every attendee; an attendee's
        mailbox held here gets its own copy (same iCalUId, organised by the sender, isOrganizer
        false, responseStatus "notResponded", shown tentative) until they answer."""
        for attendee in event.get("attendees") or []:
            address = ((attendee.get("emailAddress") or {}).get("address") or "").lower()
            other = self.mailboxes.get(address)
            if other is None or other is box:
                continue
            invited = copy.deepcopy({k: v for k, v in event.items() if k not in ("transactionId", "_calendar")})
            invited.pop("singleValueExtendedProperties", None)
            invited.update(
                id=_new_id(),
                isOrganizer=False,
                responseStatus={"response": "notResponded", "time": "0001-01-01T00:00:00Z"},
                showAs="tentative",
                _calendar=other.calendar_id,
            )
            self._stamp(invited)
            other.events[invited["id"]] = invited
            self._notify(other, "created", invited["id"], invited["_calendar"])

    # --- series: a master holds the pattern; occurrences and exceptions are computed from it ---

    def _original_starts(self, master: dict, limit: int = 1000) -> list[dt.datetime]:
        """The UTC starts the master's patternedRecurrence gives (Graph "recurrencePattern resource
        type" and "recurrenceRange"), on the wall clock of its start time zone."""
        recurrence = master["recurrence"]
        pattern, rng = recurrence["pattern"], recurrence["range"]
        zone = zone_of(rng.get("recurrenceTimeZone") or master.get("originalStartTimeZone"))
        first = master["_start"].astimezone(zone).replace(tzinfo=None)
        days = [getattr(du, d[:2].upper()) for d in pattern.get("daysOfWeek") or []]
        index = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}.get(pattern.get("index", "first"), 1)
        kind = pattern["type"]
        args: dict = {"interval": int(pattern.get("interval") or 1), "dtstart": first}
        if kind == "daily":
            freq = du.DAILY
        elif kind == "weekly":
            freq, args["byweekday"] = du.WEEKLY, days or [first.weekday()]
            # firstDayOfWeek: the week an interval counts (RFC 5545 WKST); Graph's default is sunday.
            args["wkst"] = getattr(du, (pattern.get("firstDayOfWeek") or "sunday")[:2].upper())
        elif kind in ("absoluteMonthly", "relativeMonthly"):
            freq = du.MONTHLY
        else:
            freq, args["bymonth"] = du.YEARLY, int(pattern.get("month") or first.month)
        if kind in ("absoluteMonthly", "absoluteYearly"):
            args["bymonthday"] = int(pattern.get("dayOfMonth") or first.day)
        if kind in ("relativeMonthly", "relativeYearly"):
            # index: "on which instance of the allowed days specified in daysOfWeek the event occurs,
            # counted from the first instance in the month" (recurrencePattern resource type).
            args["byweekday"], args["bysetpos"] = days, index
        if rng["type"] == "numbered":
            args["count"] = int(rng["numberOfOccurrences"])
        elif rng["type"] == "endDate":
            args["until"] = dt.datetime.fromisoformat(rng["endDate"]) + dt.timedelta(days=1, seconds=-1)
        starts = []
        for naive in du.rrule(freq, **args):
            if len(starts) >= limit:
                break
            starts.append(naive.replace(tzinfo=zone).astimezone(dt.UTC))
        return starts

    @staticmethod
    def _occurrence_id(master: dict, original: dt.datetime) -> str:
        return f"{master['id']}_OID_{original:%Y%m%dT%H%M%SZ}"

    def _occurrences(self, master: dict, *, cancelled: bool = False) -> list[tuple[dt.datetime, dict]]:
        """(original start, internal occurrence) of the series; cancelled ones only when asked."""
        result = []
        duration = master["_end"] - master["_start"]
        for original in self._original_starts(master):
            key = original.isoformat()
            if key in master["_cancelled"] and not cancelled:
                continue
            exception = master["_exceptions"].get(key)
            occurrence = {
                "id": self._occurrence_id(master, original),
                "_start": original,
                "_end": original + duration,
                "_seq": master["_seq"],
                "changeKey": master["changeKey"],
                "type": "occurrence",
                "_fields": {},
                "_original": original,
            }
            if exception:
                occurrence.update(
                    _start=exception["_start"],
                    _end=exception["_end"],
                    _seq=exception["_seq"],
                    changeKey=exception["changeKey"],
                    type="exception",
                    _fields=exception["fields"],
                )
            result.append((original, occurrence))
        return result

    def render_occurrence(self, master: dict, occurrence: dict, zone: str) -> dict:
        out = self.render(master, zone)
        out.pop("recurrence", None)
        out.update(occurrence["_fields"])
        out.update(
            id=occurrence["id"],
            type=occurrence["type"],
            seriesMasterId=master["id"],
            changeKey=occurrence["changeKey"],
            originalStart=occurrence["_original"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            start=graph_time(occurrence["_start"], zone),
            end=graph_time(occurrence["_end"], zone),
        )
        out["@odata.etag"] = f'W/"{occurrence["changeKey"]}"'
        return out

    def _find_occurrence(self, box: Mailbox, event_id: str) -> tuple[dict, dict] | None:
        master_id, _, stamp = event_id.partition("_OID_")
        master = box.events.get(master_id)
        if not stamp or master is None or master.get("type") != "seriesMaster":
            return None
        for _original, occurrence in self._occurrences(master):
            if occurrence["id"] == event_id:
                return master, occurrence
        return None

    def calendar_view(self, address: str, start: dt.datetime, end: dt.datetime) -> list[dict]:
        """What Outlook shows between start and end: single entries, occurrences and exceptions."""
        box = self.mailboxes[address.lower()]
        shown = []
        for event in box.events.values():
            if event.get("type") == "seriesMaster":
                shown += [
                    o | {"subject": o["_fields"].get("subject", event["subject"])} for _, o in self._occurrences(event)
                ]
            else:
                shown.append(event)
        return sorted(
            (e for e in shown if e["_start"] < end and e["_end"] > start), key=lambda e: (e["_start"], e["_end"])
        )

    def _patch(self, box: Mailbox, event_id: str, body: dict, if_match: str | None) -> dict:
        found = self._find_occurrence(box, event_id)
        if found is not None:  # an occurrence edited on its own becomes an exception of the series
            master, occurrence = found
            if if_match and if_match not in ("*", f'W/"{occurrence["changeKey"]}"'):
                raise GraphError(412, "ErrorIrresolvableConflict", "The change key does not match.")
            key = occurrence["_original"].isoformat()
            exception = master["_exceptions"].get(key) or {
                "_start": occurrence["_start"],
                "_end": occurrence["_end"],
                "fields": {},
            }
            for name, value in body.items():
                if name in ("start", "end"):
                    exception[f"_{name}"] = parse_graph_time(value)
                elif name not in ("recurrence", "id", "type"):
                    exception["fields"][name] = value
            self._stamp(master)  # the series' own version moves with any of its occurrences
            self._stamp(exception)
            master["_exceptions"][key] = exception
            self._notify(box, "updated", master["id"], master["_calendar"])
            return self.render_occurrence(master, self._find_occurrence(box, event_id)[1], "UTC") | {"_raw": True}
        event = box.events.get(event_id)
        if event is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if if_match and if_match not in ("*", event["@odata.etag"]):
            raise GraphError(
                412,
                "ErrorIrresolvableConflict",
                "The change key passed in the request does not match the current change key for the item.",
            )
        self._apply(event, body)
        if event.get("type") == "seriesMaster" and "recurrence" in body and not body["recurrence"]:
            # Graph "Update event": `"recurrence": null` ends the series; the master stays as one
            # entry at its own (the first occurrence's) time.
            event.pop("recurrence", None)
            event.pop("_exceptions", None)
            event.pop("_cancelled", None)
            event["type"] = "singleInstance"
        if event.get("type") == "seriesMaster" and {"recurrence", "start", "end"} & set(body):
            # Outlook: a new pattern or new series times drop the exceptions and cancellations.
            event["_exceptions"], event["_cancelled"] = {}, {}
        if event.get("recurrence") and event.get("type") != "seriesMaster":
            event.update(type="seriesMaster", _exceptions={}, _cancelled={})
        self._stamp(event)
        self._notify(box, "updated", event_id, event["_calendar"])
        return event

    def _delete(self, box: Mailbox, event_id: str, if_match: str | None = None) -> None:
        found = self._find_occurrence(box, event_id)
        if found is not None:  # deleting an occurrence cancels it
            master, occurrence = found
            self._stamp(master)
            master["_cancelled"][occurrence["_original"].isoformat()] = self.seq
            master["_exceptions"].pop(occurrence["_original"].isoformat(), None)
            box.removed.append((self.seq, event_id, occurrence["_start"], occurrence["_end"]))
            self._notify(box, "updated", master["id"], master["_calendar"])
            return
        event = box.events.get(event_id)
        if event is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if if_match and if_match not in ("*", event["@odata.etag"]):
            raise GraphError(412, "ErrorIrresolvableConflict", "The change key does not match.")
        del box.events[event_id]
        if event.get("transactionId"):
            self.spent_transactions[event["transactionId"]] = event
        self.seq += 1
        if event.get("type") == "seriesMaster":
            for _original, occurrence in self._occurrences(event):
                box.removed.append((self.seq, occurrence["id"], occurrence["_start"], occurrence["_end"]))
        else:
            box.removed.append((self.seq, event_id, event["_start"], event["_end"]))
        self._notify(box, "deleted", event_id, event["_calendar"])

    def render(self, event: dict, zone: str, expand: str = "") -> dict:
        """The event as Graph returns it. Extended properties only with `$expand` ("Get
        singleValueLegacyExtendedProperty": the only way to read one is to ask for it by id, `$filter`
        with `id eq`, several joined by `or`), each collection on its own; unfiltered (our own
        create and update answers here) every property of the collection."""
        collections = ("singleValueExtendedProperties", "multiValueExtendedProperties")
        out = {k: v for k, v in event.items() if not k.startswith("_") and k not in collections}
        out.pop("fields", None)
        out["start"] = graph_time(event["_start"], zone)
        out["end"] = graph_time(event["_end"], zone)
        for collection in collections:
            asked = re.search(rf"{collection}(\(\$filter=((?:[^')]|'(?:[^']|'')*')*)\))?", expand)
            if asked is None:
                continue
            props = event.get(collection, [])
            if asked.group(1):
                wanted = {i.replace("''", "'").lower() for i in re.findall(r"id eq '((?:[^']|'')*)'", asked.group(2))}
                props = [p for p in props if p["id"].lower() in wanted]
            if props:
                out[collection] = props
        if "_calendar" in event and re.search(r"(?:^|,)\s*calendar\b", expand):
            # The event's calendar navigation property ("The calendar that contains the event"),
            # $expand=calendar($select=id) as the id alone.
            calendar_id = event["_calendar"]
            out["calendar"] = {"id": second_form(calendar_id) if self.calendar_id_second_form else calendar_id}
        return out

    def delta(self, box: Mailbox, query: dict, zone: str, page_size: int, calendar_id: str | None = None) -> dict:
        token = query.get("$deltatoken") or query.get("$skiptoken")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
            except ValueError as error:
                raise GraphError(400, "ErrorInvalidUrlQuery", "The delta token is malformed.") from error
            if "$deltatoken" in query:  # a new round of changes since the token; snapshot now
                if state.get("gen", 0) != self.generation:
                    raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
                state = {**state, "upto": self.seq, "offset": 0, "incremental": True}
        else:
            state = {
                "start": query["startDateTime"],
                "end": query["endDateTime"],
                "since": 0,
                "upto": self.seq,
                "offset": 0,
                "incremental": False,
                "gen": self.generation,
            }
        start = dt.datetime.fromisoformat(state["start"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(state["end"].replace("Z", "+00:00"))
        if start.tzinfo is None:
            start, end = start.replace(tzinfo=dt.UTC), end.replace(tzinfo=dt.UTC)
        calendar_id = state.setdefault("calendar", calendar_id or box.calendar_id)
        items: list[tuple[int, dict]] = []
        for event in box.events.values():
            if event["_calendar"] != calendar_id:  # a calendarView is of one calendar
                continue
            if event.get("type") == "seriesMaster":  # the delta lists occurrences and exceptions, not masters
                for _original, occurrence in self._occurrences(event):
                    if state["since"] < occurrence["_seq"] <= state["upto"]:
                        if occurrence["_start"] < end and occurrence["_end"] > start:
                            items.append((occurrence["_seq"], self.render_occurrence(event, occurrence, zone)))
                        elif state["incremental"]:
                            items.append((occurrence["_seq"], self._removed(occurrence["id"], "changed")))
                continue
            if state["since"] < event["_seq"] <= state["upto"]:
                if event["_start"] < end and event["_end"] > start:
                    items.append((event["_seq"], self.render(event, zone)))
                elif state["incremental"]:  # changed outside the range: out of the view, not deleted
                    items.append((event["_seq"], self._removed(event["id"], "changed")))
        if state["incremental"]:
            for seq, event_id, ev_start, ev_end in box.removed:
                if state["since"] < seq <= state["upto"] and ev_start < end and ev_end > start:
                    items.append((seq, self._removed(event_id, "deleted")))
        items.sort(key=lambda pair: pair[0])
        page = items[state["offset"] : state["offset"] + page_size]
        base = f"{self.base_url}/users/{box.user_id}/calendars/{calendar_id}/calendarView/delta"
        answer: dict = {"@odata.context": f"{self.base_url}/$metadata#Collection(event)", "value": [e for _, e in page]}
        if state["offset"] + page_size < len(items):
            nxt = {**state, "offset": state["offset"] + page_size}
            answer["@odata.nextLink"] = f"{base}?$skiptoken={_encode(nxt)}"
        else:
            answer["@odata.deltaLink"] = f"{base}?$deltatoken={_encode({**state, 'since': state['upto'], 'offset': 0})}"
        return answer

    def _removed(self, event_id: str, reason: str) -> dict:
        """A delta's entry for an event that left the view: `@removed` with its `reason`, "deleted"
        for an event deleted, "changed" for one still there but no longer in the range (OData's
        deleted-entity reasons: "deleted" destroyed, "changed" removed from the result; Graph "Use
        delta query to track changes in Microsoft Graph data"). `removed_reasons` off: no reason
        at all, which the documents allow ("may include additional information")."""
        return {"id": event_id, "@removed": {"reason": reason} if self.removed_reasons else {}}

    def paged(self, entries: list[dict], path: str, query: dict, page_size: int) -> dict:
        """One page of a collection as Graph gives it ("Paging Microsoft Graph data"): at most
        `page_size` entries from `$skip`, and an `@odata.nextLink` (the same query with the next
        `$skip`) while more remain."""
        skip = int(query.get("$skip") or 0)
        answer: dict = {"value": entries[skip : skip + page_size]}
        if skip + page_size < len(entries):
            following = urlencode({**{k: v for k, v in query.items() if k != "$skip"}, "$skip": skip + page_size})
            answer["@odata.nextLink"] = f"{self.base_url}{path}?{following}"
        return answer

    def graph(self, method: str, path: str, query: dict, headers: dict, body: dict | None) -> tuple[int, dict, dict]:
        """One Graph request (also one item of a $batch): (status, headers, body)."""
        prefer = headers.get("prefer", "")
        zone_match = re.search(r'outlook\.timezone="([^"]+)"', prefer)
        zone = zone_match.group(1) if zone_match else "UTC"
        size_match = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        page_size = int(size_match.group(1)) if size_match else self.page_size
        if self.max_page_size:  # odata.maxpagesize is a preference: the server may page smaller
            page_size = min(page_size, self.max_page_size)
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["subscriptions"]:
            if len(parts) == 1 and method == "POST":
                return 201, {}, self.subscribe(body or {})
            subscription = self.subscriptions.get(parts[1]) if len(parts) == 2 else None
            if subscription is None:
                raise GraphError(404, "ResourceNotFound", "The object was not found.")
            if method == "PATCH":
                subscription["expirationDateTime"] = (body or {}).get(
                    "expirationDateTime", subscription["expirationDateTime"]
                )
                return 200, {}, {k: v for k, v in subscription.items() if not k.startswith("_")}
            if method == "DELETE":
                del self.subscriptions[parts[1]]
                return 204, {}, {}
        if len(parts) < 2 or parts[0] != "users":
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        box = self._box(parts[1])
        rest = parts[2:]
        if_match = headers.get("if-match")
        expand = query.get("$expand", "")
        if rest == [] and method == "GET":
            return 200, {}, {"id": box.user_id, "mail": box.address, "userPrincipalName": box.address}
        if rest == ["calendar"] and method == "GET":
            return 200, {}, {"id": box.calendar_id, "name": "Calendar", "canEdit": box.calendar_id not in box.read_only}
        if rest == ["calendars"] and method == "GET":
            calendars = [
                {
                    "id": cid,
                    "name": name,
                    "canEdit": cid not in box.read_only,
                    "isDefaultCalendar": cid == box.calendar_id,
                }
                for cid, name in box.calendars.items()
            ]
            return 200, {}, self.paged(calendars, path, query, page_size)
        calendar_id = box.calendar_id
        if rest[:1] == ["calendars"] and len(rest) >= 2:
            # /users/{id}/calendars/{id}/...: the named calendar, as /calendar/... is the default one.
            calendar_id = unquote(rest[1])
            forms = {second_form(cid): cid for cid in box.calendars} if self.calendar_id_second_form else {}
            calendar_id = forms.get(calendar_id, calendar_id)
            if calendar_id not in box.calendars:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            rest = ["calendar", *rest[2:]]
            if rest == ["calendar"] and method == "GET":
                can_edit = calendar_id not in box.read_only
                return 200, {}, {"id": calendar_id, "name": box.calendars[calendar_id], "canEdit": can_edit}
        if rest in (["calendarView", "delta"], ["calendar", "calendarView", "delta"]) and method == "GET":
            return 200, {}, self.delta(box, query, zone, page_size, calendar_id)
        if rest in (["calendar", "events"], ["events"]) and method == "POST":
            self._refuses(box, method, calendar_id)
            if body is None or "start" not in body or "end" not in body:
                raise GraphError(400, "ErrorInvalidRequest", "An event needs start and end.")
            event = self._create(box, body, calendar_id)
            return 201, {"ETag": event["@odata.etag"]}, self.render(event, zone, "singleValueExtendedProperties")
        if rest in (["calendar", "events"], ["events"]) and method == "GET":
            # A calendar's events collection holds that calendar's events; /users/{id}/events the mailbox's.
            events = [e for e in box.events.values() if rest == ["events"] or e["_calendar"] == calendar_id]
            flt = query.get("$filter", "")
            wanted = re.search(r"ep/id eq '([^']+)' and ep/value eq '([^']+)'", flt)
            if wanted:
                events = [
                    e
                    for e in events
                    if any(
                        p["id"].lower() == wanted.group(1).lower() and p["value"] == wanted.group(2)
                        for p in e.get("singleValueExtendedProperties", [])
                    )
                ]
            return 200, {}, {"value": [self.render(e, zone, expand) for e in events]}
        if len(rest) == 3 and rest[0] == "events" and rest[2] == "instances" and method == "GET":
            self._refuses(box, method, calendar_id, unquote(rest[1]))
            master = box.events.get(unquote(rest[1]))
            if master is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            if master.get("type") != "seriesMaster":
                return 200, {}, {"value": []}
            lo = dt.datetime.fromisoformat(query["startDateTime"].replace("Z", "+00:00"))
            hi = dt.datetime.fromisoformat(query["endDateTime"].replace("Z", "+00:00"))
            lo, hi = (v if v.tzinfo else v.replace(tzinfo=dt.UTC) for v in (lo, hi))
            shown = [o for _, o in self._occurrences(master) if o["_start"] < hi and o["_end"] > lo]
            return 200, {}, self.paged([self.render_occurrence(master, o, zone) for o in shown], path, query, page_size)
        if len(rest) == 2 and rest[0] == "events" and "_OID_" in rest[1]:
            event_id = unquote(rest[1])
            self._refuses(box, method, calendar_id, event_id)
            if method == "GET":
                found = self._find_occurrence(box, event_id)
                if found is None:
                    raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
                return 200, {}, self.render_occurrence(*found, zone)
            if method == "PATCH":
                answer = self._patch(box, event_id, body or {}, if_match)
                answer.pop("_raw", None)
                found = self._find_occurrence(box, event_id)
                return 200, {}, self.render_occurrence(*found, zone)
            if method == "DELETE":
                self._delete(box, event_id, if_match)
                return 204, {}, {}
        if (len(rest) == 2 and rest[0] == "events") or (len(rest) == 3 and rest[:2] == ["calendar", "events"]):
            event_id = unquote(rest[-1])
            self._refuses(box, method, calendar_id, event_id)
            if method == "GET":
                event = box.events.get(event_id)
                if event is None:
                    raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
                return 200, {"ETag": event["@odata.etag"]}, self.render(event, zone, expand)
            if method == "PATCH":
                event = self._patch(box, event_id, body or {}, if_match)
                return 200, {"ETag": event["@odata.etag"]}, self.render(event, zone, "singleValueExtendedProperties")
            if method == "DELETE":
                self._delete(box, event_id, if_match)
                return 204, {}, {}
        raise GraphError(400, "BadRequest", f"Unsupported request {method} {path}.")

    # --- change notifications (Graph "Set up notifications for changes in resource data") ---

    def subscribe(self, body: dict) -> dict:
        """POST /subscriptions: the notification URL is checked first with a validationToken request
        that must be answered 200 with the token as text/plain within 10 s."""
        resource = body.get("resource", "")
        # Outlook events: the whole mailbox's (/users/{id}/events), one calendar's
        # (/users/{id}/calendars/{id}/events) or the default calendar's (/users/{id}/calendar/events).
        match = re.fullmatch(r"/?users/([^/]+)/(?:calendars/([^/]+)/|(calendar)/)?events", resource, re.IGNORECASE)
        if match is None or ((match.group(2) or match.group(3)) and not self.calendar_subscriptions):
            raise GraphError(400, "InvalidRequest", f"Resource '{resource}' is not supported.")
        box = self._box(match.group(1))
        calendar_id = unquote(match.group(2)) if match.group(2) else box.calendar_id if match.group(3) else None
        if calendar_id is not None and calendar_id not in box.calendars:
            raise GraphError(404, "ResourceNotFound", "The specified object was not found in the store.")
        token = secrets.token_urlsafe(16)
        url = body.get("notificationUrl", "")
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise GraphError(400, "ValidationError", "The notification URL must use https.")
        try:
            request = urllib.request.Request(
                f"{url}?validationToken={token}", data=b"", headers={"Content-Type": "text/plain"}, method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                echoed = answer.read().decode()
                ok = answer.status == 200 and echoed == token
        except OSError:
            ok = False
        if not ok:
            raise GraphError(
                400,
                "ValidationError",
                "Subscription validation request failed. Notification endpoint must respond with 200 OK "
                "to validation request.",
            )
        expires = dt.datetime.fromisoformat(body["expirationDateTime"].replace("Z", "+00:00"))
        latest = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10080)
        if expires > latest:
            raise GraphError(400, "ExtensionError", "Subscription expiration can only be 10070 minutes in the future.")
        subscription = {
            "id": str(uuid.uuid4()),
            "resource": resource,
            "changeType": body.get("changeType", ""),
            "notificationUrl": url,
            "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
            "clientState": body.get("clientState"),
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "_mailbox": box.address.lower(),
            "_calendar": calendar_id,  # None: every calendar of the mailbox
        }
        self.subscriptions[subscription["id"]] = subscription
        return {k: v for k, v in subscription.items() if not k.startswith("_")}

    def _notify(self, box: Mailbox, change: str, event_id: str, calendar_id: str) -> None:
        """Notify the subscriptions whose resource holds the event: its mailbox's, or its calendar's."""
        for subscription in list(self.subscriptions.values()):
            if subscription["_mailbox"] != box.address.lower() or change not in subscription["changeType"]:
                continue
            if subscription["_calendar"] not in (None, calendar_id):
                continue
            self.notified.append((subscription["id"], change, event_id))
            item = {
                "subscriptionId": subscription["id"],
                "subscriptionExpirationDateTime": subscription["expirationDateTime"],
                "changeType": change,
                "resource": f"Users/{box.user_id}/Events/{event_id}",
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event_id},
                "clientState": subscription["clientState"],
                "tenantId": self.tenant,
            }
            self._deliver(subscription["id"], subscription["notificationUrl"], {"value": [item]})

    def send_lifecycle(self, subscription_id: str, event: str, *, client_state: str | None = None) -> None:
        """A lifecycle notification (reauthorizationRequired, subscriptionRemoved, missed)."""
        subscription = self.subscriptions[subscription_id]
        item = {
            "subscriptionId": subscription_id,
            "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "lifecycleEvent": event,
            "clientState": subscription["clientState"] if client_state is None else client_state,
            "tenantId": self.tenant,
        }
        url = subscription.get("lifecycleNotificationUrl") or subscription["notificationUrl"]
        self._deliver(subscription_id, url, {"value": [item]})

    def _deliver(self, subscription_id: str, url: str, payload: dict) -> None:
        def post() -> None:
            request = urllib.request.Request(
                url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status = answer.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            with self.lock:
                self.deliveries.append((subscription_id, status))

        threading.Thread(target=post, daemon=True).start()

    def fault_for(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.path_contains in path:
                fault.remaining -= 1
                return fault
        return None


def operation_name(method: str, path: str) -> str:
    """A short name for a request the server saw (its `requests` rows), to count them by kind."""
    if path.endswith("/calendarView/delta"):
        return "delta"
    if path.endswith("/$batch"):
        return "$batch"
    if "/oauth2/" in path or "openid-configuration" in path:
        return "sign-in"
    return f"{method} {path.rsplit('/', 1)[-1] if 'events' in path else path}"


def _registered(uri: str, registered: list[str]) -> bool:
    """Whether a redirect URI is one of the app's: exactly, except that the port of a loopback
    address is ignored (Entra, "Redirect URI (reply URL) restrictions": localhost)."""
    if uri in registered:
        return True
    parts = urlsplit(uri)
    if parts.hostname not in ("localhost", "127.0.0.1"):
        return False
    for other in registered:
        theirs = urlsplit(other)
        if (theirs.scheme, theirs.hostname, theirs.path) == (parts.scheme, parts.hostname, parts.path):
            return True
    return False


def _new_id() -> str:
    return "AAMkA" + base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")


def _encode(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _error_body(error: GraphError) -> dict:
    return {"error": {"code": error.code, "message": error.message, "innerError": {"request-id": str(uuid.uuid4())}}}


def _handler(server: GraphServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY on each connection: the handler writes the headers and the body in two sends, and
        # with Nagle's algorithm the body waited for the client's delayed ACK (40 ms on Linux) - about
        # 44 ms a request instead of 1-2 (StreamRequestHandler.disable_nagle_algorithm).
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict | None, headers: dict | None = None) -> None:
            data = json.dumps(body).encode() if body is not None and status != 204 else b""
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            raw = self._body()
            path = url.path
            if server.before_request is not None:
                server.before_request(method, path)
            tenant = f"/{server.tenant}"
            try:
                if path == f"{tenant}/v2.0/.well-known/openid-configuration":
                    with server.lock:
                        server.requests.append((method, path, ""))
                    return self._send(200, server.openid_configuration())
                if path == f"{tenant}/oauth2/v2.0/authorize":
                    with server.lock:
                        server.requests.append((method, path, ""))
                        location = server.authorize(query)
                    return self._send(302, {}, {"Location": location})
                if path == f"{tenant}/oauth2/v2.0/token" and method == "POST":
                    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    with server.lock:
                        server.requests.append((method, path, ""))
                        answer = server.token(form, self.headers.get("Authorization"))
                    return self._send(200, answer, {"Cache-Control": "no-store"})
                if path.startswith("/v1.0/"):
                    return self._graph(method, path[len("/v1.0") :], query, raw)
                return self._send(404, {"error": "not_found"})
            except GraphError as error:
                if path.startswith(f"{tenant}/"):
                    code = int(re.search(r"AADSTS(\d+)", error.message).group(1)) if "AADSTS" in error.message else 0
                    return self._send(
                        error.status,
                        {
                            "error": error.code,
                            "error_description": error.message,
                            "error_codes": [code],
                            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                        },
                    )
                return self._send(error.status, _error_body(error), error.headers)

        def _graph(self, method: str, path: str, query: dict, raw: bytes) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            mailbox = ""
            if path.startswith("/users/"):
                mailbox = server.mailbox_key(path.split("/")[2])
            with server.lock:
                server.requests.append((method, "/v1.0" + path, mailbox))
                server.check_prefer(path, headers.get("prefer", ""))
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if token not in server.tokens:
                raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
            signed_in = server.token_users.get(token)
            if signed_in is not None and mailbox and mailbox != signed_in:
                # A delegated token opens only its own user's mailbox (no sharing set up here).
                raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            mailboxes = self._batch_mailboxes(path, raw) if path == "/$batch" else {mailbox: 1} if mailbox else {}
            with server.lock:
                fault = server.fault_for(path)
                if fault is None:
                    for box, count in mailboxes.items():
                        server.in_flight[box] = server.in_flight.get(box, 0) + min(count, MAX_CONCURRENT_PER_MAILBOX)
                        server.max_in_flight[box] = max(server.max_in_flight.get(box, 0), server.in_flight[box])
                    busy = [b for b in mailboxes if server.in_flight[b] > MAX_CONCURRENT_PER_MAILBOX]
            if fault is not None:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                raise GraphError(fault.status, fault.code, f"Injected fault {fault.code}.", extra)
            chance = server._random_fault()
            with server.lock:
                dropped = next((p for p in server.drop_next if p in path), None)
                if dropped is not None:
                    server.drop_next.remove(dropped)
                    chance = "drop_after"
                stalled = next((p for p in server.stall_next if p in path), None)
                if stalled is not None:
                    server.stall_next.remove(stalled)
                    chance = "stall_after"
            try:
                if chance == "drop":
                    self.close_connection = True
                    return None
                if chance in ("429", "503", "500"):
                    wait = {"Retry-After": "0"} if chance != "500" else {}
                    codes = {"429": "ApplicationThrottled", "503": "ServiceUnavailable", "500": "InternalServerError"}
                    raise GraphError(int(chance), codes[chance], "Injected random fault.", wait)
                if busy:
                    raise GraphError(
                        429,
                        "ApplicationThrottled",
                        "Application is over its MailboxConcurrency limit.",
                        {"Retry-After": "1"},
                    )
                if server.delay:
                    threading.Event().wait(server.delay)
                if path == "/$batch" and method == "POST":
                    answer, status, extra = self._batch(json.loads(raw or b"{}")), 200, {}
                else:
                    body = json.loads(raw) if raw else None
                    with server.lock:
                        status, extra, answer = server.graph(method, path, query, headers, body)
                if chance == "drop_after":  # the change is made; the answer never arrives
                    self.close_connection = True
                    return None
                if chance == "stall_after":  # the change is made; the answer waits until released
                    server.processed.set()
                    server.release.wait(60)
                    self.close_connection = True
                    return None
                answered = (status, answer if status != 204 else None, extra)
            finally:
                # Done before the answer is sent: the client may send its next request the moment it
                # has this one's answer (TCP_NODELAY), and that one must not count this one as running.
                with server.lock:
                    for box, count in mailboxes.items():
                        server.in_flight[box] -= min(count, MAX_CONCURRENT_PER_MAILBOX)
            return self._send(*answered)

        @staticmethod
        def _item_mailbox(item: dict) -> str:
            segments = urlsplit(item.get("url", "")).path.strip("/").split("/")
            return server.mailbox_key(segments[1]) if len(segments) > 1 and segments[0] == "users" else ""

        def _batch_mailboxes(self, path: str, raw: bytes) -> dict[str, int]:
            """Mailbox -> how many of the batch's items run at once against it (those without dependsOn)."""
            try:
                requests = json.loads(raw or b"{}").get("requests", [])
            except ValueError:
                return {}
            found: dict[str, int] = {}
            for item in requests:
                box = self._item_mailbox(item)
                if box:
                    found[box] = found.get(box, 0) + (0 if item.get("dependsOn") else 1)
            return {box: max(1, count) for box, count in found.items()}

        def _batch(self, payload: dict) -> dict:
            requests = payload.get("requests", [])
            if len(requests) > MAX_BATCH:
                raise GraphError(400, "BadRequest", f"Number of batch requests exceeds the limit of {MAX_BATCH}.")
            # Items without dependsOn run in parallel (JSON batching docs), each counting against the
            # mailbox's 4 concurrent requests; those beyond are throttled. A failed item fails the
            # items that depend on it with 424.
            roots: dict[str, int] = {}
            refused: set[str] = set()
            for item in requests:
                if not item.get("dependsOn"):
                    box = self._item_mailbox(item)
                    roots[box] = roots.get(box, 0) + 1
                    if roots[box] > MAX_CONCURRENT_PER_MAILBOX:
                        refused.add(item["id"])
            failed: set[str] = set()
            responses = []
            for item in requests:
                if item["id"] in refused or any(d in failed for d in item.get("dependsOn") or ()):
                    failed.add(item["id"])
                    error = (
                        GraphError(429, "ApplicationThrottled", "MailboxConcurrency limit hit.", {"Retry-After": "1"})
                        if item["id"] in refused
                        else GraphError(424, "FailedDependency", "A request this one depends on failed.")
                    )
                    responses.append(
                        {"id": item["id"], "status": error.status, "headers": error.headers, "body": _error_body(error)}
                    )
                    continue
                url = urlsplit(item["url"] if item["url"].startswith("/") else "/" + item["url"])
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                headers = {k.lower(): v for k, v in (item.get("headers") or {}).items()}
                with server.lock:
                    server.batch_items.append((item["method"], url.path))
                    server.check_prefer(f"$batch item {url.path}", headers.get("prefer", ""))
                    fault = server.fault_for(url.path)
                try:
                    if fault is not None:
                        extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                        raise GraphError(fault.status, fault.code, f"Injected fault {fault.code}.", extra)
                    with server.lock:
                        status, extra, answer = server.graph(item["method"], url.path, query, headers, item.get("body"))
                    responses.append({"id": item["id"], "status": status, "headers": extra, "body": answer})
                except GraphError as error:
                    failed.add(item["id"])
                    responses.append(
                        {"id": item["id"], "status": error.status, "headers": error.headers, "body": _error_body(error)}
                    )
            return {"responses": responses}

    return Handler
