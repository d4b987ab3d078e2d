"""Connections to external calendar systems, and the sync state kept for each technician."""

import json
import re
import uuid
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from agents.models import Agent
from calendars.models import Appointment
from integrations import crypto
from integrations.fields import SealedSnapshotField


class ExchangeVersion(models.TextChoices):
    """The version an Exchange connection announces, so no guessing round-trip is needed."""

    EXCHANGE_2013 = "2013", "Exchange 2013"
    EXCHANGE_2013_SP1 = "2013_SP1", "Exchange 2013 SP1"
    EXCHANGE_2016 = "2016", "Exchange 2016"
    EXCHANGE_2019 = "2019", "Exchange 2019 / Subscription Edition"


class ExchangeAuth(models.TextChoices):
    NTLM = "ntlm", "NTLM (Windows integrated)"
    BASIC = "basic", "Basic"


class ExchangeAccess(models.TextChoices):
    IMPERSONATION = "impersonation", "Impersonation (ApplicationImpersonation role)"
    DELEGATE = "delegate", "Delegate (rights on each technician's calendar)"


# Options of an Exchange connection: name -> (allowed values, default).
EWS_OPTIONS = {
    "version": (ExchangeVersion.values, ExchangeVersion.EXCHANGE_2016),
    "auth_type": (ExchangeAuth.values, ExchangeAuth.NTLM),
    "access_type": (ExchangeAccess.values, ExchangeAccess.IMPERSONATION),
}

# Options of a Google connection: name -> (allowed values, default); the URLs default to Google's own.
GOOGLE_OPTIONS = {"auth": (("service_account", "oauth"), "service_account")}
GOOGLE_URL_OPTIONS = ("api_endpoint", "batch_uri", "token_uri", "auth_uri")


class EncryptedSecret:
    """A model whose `secret_encrypted` field holds a Fernet token (integrations.crypto): a password,
    client secret, service-account key or refresh token, never shown back."""

    def set_secret(self, plain: str) -> None:
        self.secret_encrypted = crypto.encrypt(plain)

    def get_secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)


class Connection(EncryptedSecret, models.Model):
    """An admin-configured link to one external calendar system."""

    class Kind(models.TextChoices):
        CALDAV = "caldav", "CalDAV (Nextcloud, Fastmail, iCloud, Radicale, ...)"
        EWS = "ews", "Exchange (EWS)"
        GRAPH = "graph", "Microsoft 365 (Graph)"
        GOOGLE = "google", "Google Calendar"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CALDAV)
    server_url = models.URLField("server address", max_length=500, blank=True)
    username = models.CharField(max_length=255, blank=True)
    # Fernet token; never shown back (see integrations.crypto).
    secret_encrypted = models.TextField(blank=True, editable=False)
    options = models.JSONField(default=dict, blank=True, help_text="Extra settings of this kind of connection.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The last "test connection", run by the worker: no outbound call waits in a web request.
    last_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_ok = models.BooleanField(null=True, editable=False)
    last_test_message = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.options, dict):
            raise ValidationError({"options": "Options must be a JSON object."})
        if self.kind == self.Kind.EWS:
            self._clean_exchange()
        if self.kind == self.Kind.GRAPH:
            self._clean_graph()
        if self.kind == self.Kind.GOOGLE:
            self._clean_google()

    def _clean_graph(self) -> None:
        """A Microsoft 365 connection: the app registration's tenant and client ids, https addresses."""
        errors: dict[str, list[str]] = {}
        tenant = str(self.options.get("tenant_id") or "")
        if not re.fullmatch(r"[0-9a-fA-F-]{36}|[A-Za-z0-9.-]+\.[A-Za-z]{2,}", tenant):
            errors.setdefault("options", []).append(
                "Give tenant_id: the Directory (tenant) ID of the app registration (a GUID) or the tenant's domain."
            )
        if not self.username:
            errors["username"] = ["Microsoft 365 needs the Application (client) ID of the app registration here."]
        for name, value in (("authority", self.options.get("authority")), ("server address", self.server_url)):
            if value and not str(value).startswith("https://"):
                errors.setdefault("options" if name == "authority" else "server_url", []).append(
                    f"The {name} must be an https:// address."
                )
        if errors:
            raise ValidationError(errors)

    def _clean_exchange(self) -> None:
        errors: dict[str, list[str]] = {}
        for name, (allowed, _default) in EWS_OPTIONS.items():
            value = self.options.get(name)
            if value is not None and value not in allowed:
                label = name.replace("_", " ")
                errors.setdefault("options", []).append(f"Unknown {label} {value!r}: use one of {', '.join(allowed)}.")
        timeout = self.options.get("timeout", 60)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 5 <= timeout <= 600:
            errors.setdefault("options", []).append("The timeout is a whole number of seconds from 5 to 600.")
        if not self.username:
            errors["username"] = ["Exchange needs the service account (svc-helpdesk@example.com or DOMAIN\\user)."]
        elif not self.server_url and "@" not in self.username:
            errors["server_url"] = [
                "Enter the EWS address (https://mail.example.com/EWS/Exchange.asmx), or give the account as an "
                "e-mail address so autodiscover can find the server."
            ]
        if errors:
            raise ValidationError(errors)

    def _clean_google(self) -> None:
        """A Google connection: the service account's JSON key (Workspace, domain-wide delegation) or an
        OAuth client (username = client id, secret = client secret); endpoint options are URLs."""
        errors: dict[str, list[str]] = {}
        auth = self.options.get("auth", GOOGLE_OPTIONS["auth"][1])
        if auth not in GOOGLE_OPTIONS["auth"][0]:
            errors.setdefault("options", []).append(
                f"Unknown Google sign-in {auth!r}: use service_account (Workspace) or oauth (each technician)."
            )
        for name in GOOGLE_URL_OPTIONS:
            value = self.options.get(name)
            if value is not None and (not isinstance(value, str) or not value.startswith(("https://", "http://"))):
                errors.setdefault("options", []).append(f"The {name.replace('_', ' ')} must be an http(s) address.")
        timeout = self.options.get("timeout", 60)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 5 <= timeout <= 600:
            errors.setdefault("options", []).append("The timeout is a whole number of seconds from 5 to 600.")
        if auth == "oauth" and not self.username:
            errors["username"] = ["Enter the OAuth client id (…apps.googleusercontent.com) as the account."]
        if auth == "service_account" and self.has_secret:
            from integrations.providers.base import ConnectionProblem
            from integrations.providers.google import check_service_account_info

            try:
                check_service_account_info(json.loads(self.get_secret()))
            except ValueError:
                errors["secret"] = ["The service account key is not JSON: paste the whole downloaded key file."]
            except ConnectionProblem as problem:
                errors["secret"] = [str(problem)]
        if errors:
            raise ValidationError(errors)

    def option(self, name: str):
        """An option of this connection, or its default for the connection's kind."""
        default = EWS_OPTIONS[name][1] if self.kind == self.Kind.EWS and name in EWS_OPTIONS else None
        if self.kind == self.Kind.GOOGLE and name in GOOGLE_OPTIONS:
            default = GOOGLE_OPTIONS[name][1]
        return (self.options or {}).get(name, default)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def remote_calendar_key(kind: str, calendar_id: str) -> str:
    """The identity of a resolved remote calendar, the same through any connection to its server.

    CalDAV: the calendar's URL normalised as RFC 3986 6.2.2-6.2.3 allows (scheme and host in lower
    case, the scheme's default port dropped, percent-encoding decoded, one trailing slash), so
    "HTTP://Dav.example.com:80/alice/work" and "http://dav.example.com/alice/work/" are one calendar.
    Exchange (folder id), Microsoft 365 (calendar id) and Google (calendar id) name a calendar by an id
    the server makes unique, taken as it is. Empty for an unresolved calendar (no id yet)."""
    calendar_id = (calendar_id or "").strip()
    if not calendar_id:
        return ""
    if kind != Connection.Kind.CALDAV:
        return f"{kind}:{calendar_id}"[:1100]
    parts = urlsplit(calendar_id)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port if parts.port and parts.port != _DEFAULT_PORTS.get(scheme) else None
    except ValueError:
        port = None
    path = unquote(parts.path or "/").rstrip("/") + "/"
    return f"caldav:{scheme}://{host}{f':{port}' if port else ''}{path}"[:1100]


class AgentCalendar(EncryptedSecret, models.Model):
    """One technician's calendar on one connection, with its sync state."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        FAILING = "failing", "Failing"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="external_calendars")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="agent_calendars")
    mailbox = models.CharField(max_length=255, blank=True, help_text="Empty: the technician's mailbox.")
    calendar_id = models.CharField(
        "remote calendar",
        max_length=1000,
        blank=True,
        help_text="Empty: found on the first sync (the calendar named below, else the technician's default one).",
    )
    calendar_name = models.CharField(
        max_length=255,
        blank=True,
        help_text="Empty: the default calendar. Else the name of another calendar of the technician's (Exchange: a "
        "calendar folder anywhere in the mailbox, found by name ignoring case; it must name one folder only).",
    )
    # An admin's word that the connection's account, which is not this technician's own (a per-user
    # CalDAV account, or another person's mailbox), is shared with or delegated to them
    # (integrations.selectors.account_not_theirs): without it the link is refused and never syncs.
    shared_account = models.BooleanField(
        "account shared with this technician",
        default=False,
        help_text="Tick only when the connection's account (or the mailbox below) belongs to someone else and that "
        "person shares or delegates this calendar to the technician: its entries become the technician's.",
    )
    # The remote calendar this link holds (remote_calendar_key), set once the worker or
    # connect_agent checked no other link holds it: unique, so one remote calendar has one link
    # (SPEC S3.9). Empty: not resolved yet, or refused as another link's calendar.
    remote_key = models.CharField(max_length=1100, blank=True, editable=False)
    # A technician's own sign-in where the connection has one per person (Google OAuth refresh
    # token): Fernet token, never shown back.
    secret_encrypted = models.TextField(blank=True, editable=False)
    # A push channel (Google events.watch): its id, Google's resource id, the token notifications must
    # carry, and when it ends. Hints only: polling stays the safety net.
    push_channel_id = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    push_resource_id = models.CharField(max_length=255, blank=True, editable=False)
    push_token = models.CharField(max_length=128, blank=True, editable=False)
    push_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    sync_token = models.TextField(blank=True, editable=False)
    full_sync_at = models.DateTimeField("last full listing", null=True, blank=True, editable=False)
    # Where the calendar was read before its place changed (a connection's new server address, a
    # calendar relinked to another URL), until the first full listing at the new place succeeds:
    # a listing from a place that never held our entries is no evidence that they were deleted, so
    # that listing re-creates the linked entries it lacks instead (integrations/sync/engine.py).
    moved_from = models.CharField("first listing after a move from", max_length=1100, blank=True, editable=False)
    # A relink to another calendar (admin), not a server move: {"from": the old calendar id, and with
    # the admin's "remove" tick box "remove": the ids of the entries the helpdesk put there}. While
    # set, the first listing at the new place re-creates only the helpdesk's entries (the
    # technician's own stay in their old calendar); once it ends, "remove"'s entries are deleted
    # from the old calendar (integrations/sync/engine.py, `_Run._clean_old_calendar`).
    relink = models.JSONField("relink", default=dict, blank=True, editable=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    # When the technician's calendar was linked: a calendar never pulled ages from here in the
    # operators' lag (selectors.sync_overview), so a link that never worked trips the lag alert.
    linked_at = models.DateTimeField("linked", default=timezone.now, editable=False)
    last_sync = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Polling at scale (integrations.sync.schedule): the last pull that completed (the lag operators
    # watch), the failed pulls since, and the back-off they earned (beat queues no pull before it).
    last_pull_at = models.DateTimeField("last good pull", null=True, blank=True, editable=False)
    pull_failures = models.PositiveIntegerField("failed pulls in a row", default=0, editable=False)
    next_pull_at = models.DateTimeField("backing off until", null=True, blank=True, editable=False)
    # Conflicts that push runs resolved since the last good pull: the pull's summary counts them and
    # starts again from 0 (the sync log says what each overwrote).
    push_conflicts = models.PositiveIntegerField(
        "conflicts resolved by pushes since the last pull", default=0, editable=False
    )
    # Entries of the external calendar that could not be imported ({remote id: plain reason}): read
    # again at every pull until they import or go (integrations/sync/engine.py).
    import_retry = models.JSONField(default=dict, blank=True, editable=False)
    # The lock of one sync at a time: claimed with SKIP LOCKED on PostgreSQL, a lease that expires.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    lock_owner = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["agent__user__username", "connection__name"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "connection"], name="one_calendar_per_agent_connection"),
            models.UniqueConstraint(
                fields=["remote_key"], condition=~models.Q(remote_key=""), name="one_link_per_remote_calendar"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} on {self.connection}"

    @property
    def mailbox_address(self) -> str:
        return self.mailbox or self.agent.mailbox

    @property
    def is_syncing(self) -> bool:
        return bool(self.locked_until and self.locked_until > timezone.now())

    @property
    def is_backing_off(self) -> bool:
        return bool(self.next_pull_at and self.next_pull_at > timezone.now())


class GraphSubscription(models.Model):
    """A Microsoft Graph change-notification subscription on one agent calendar: a hint to pull
    early. `client_state` is the secret Graph sends back with every notification."""

    agent_calendar = models.OneToOneField(AgentCalendar, on_delete=models.CASCADE, related_name="graph_subscription")
    subscription_id = models.CharField(max_length=255, unique=True)
    client_state = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Graph subscription of {self.agent_calendar}"


class DelegatedGrant(models.Model):
    """A technician's own Microsoft 365 sign-in (authorization code with PKCE) for one agent
    calendar: the refresh token, encrypted, rotated on every use. A revoked grant asks the
    technician to reconnect."""

    agent_calendar = models.OneToOneField(AgentCalendar, on_delete=models.CASCADE, related_name="delegated_grant")
    account = models.CharField(max_length=255, blank=True)
    refresh_token_encrypted = models.TextField(editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Microsoft 365 sign-in of {self.agent_calendar}"

    def set_refresh_token(self, plain: str) -> None:
        self.refresh_token_encrypted = crypto.encrypt(plain)

    def get_refresh_token(self) -> str:
        return crypto.decrypt(self.refresh_token_encrypted)


# SyncLink.snapshot key: the request whose appointment the helpdesk deleted while the link waits
# for the deletion to reach the external calendar, so a conflict met there is told on the request.
DELETED_REQUEST = "deleted_request"


def new_marker() -> str:
    return f"helpdesk-{uuid.uuid4()}"


class SyncLinkQuerySet(models.QuerySet):
    """SyncLink's queryset: its `delete` is one conditional statement (see there)."""

    def delete(self) -> tuple[int, dict[str, int]]:
        """Delete the links this queryset matches with one DELETE that keeps every filter, so a
        compare-and-set such as `filter(pk=…, changes=…).delete()` holds (engine `_deleted`, task
        push 3); their sync log entries stay, with the link emptied (SyncLogEntry.link's SET_NULL).

        Django's own delete cannot fast-delete a model that a SET_NULL relation points to: it
        SELECTs the rows, then deletes them by id alone, so a row changed between the two (a
        helpdesk change raising `changes`) would be deleted all the same. Here the DELETE comes
        first, with the filters, and only the log entries of the links actually gone are emptied,
        in the same transaction (the foreign keys are checked at commit: Django declares them
        DEFERRABLE INITIALLY DEFERRED on PostgreSQL and SQLite).

        Returns (count, {"integrations.SyncLink": count}) like QuerySet.delete. Raises TypeError on
        a sliced queryset, as QuerySet.delete does.
        """
        if self.query.is_sliced:
            raise TypeError("Cannot use 'limit' or 'offset' with delete().")
        with transaction.atomic(using=self.db):
            ids = list(self.values_list("pk", flat=True))
            if not ids:
                return 0, {}
            # _raw_delete: the SQL DELETE of this queryset's WHERE, without the collector.
            deleted = self.filter(pk__in=ids)._raw_delete(self.db)
            still_there = SyncLink.objects.using(self.db).filter(pk__in=ids).values("pk")
            SyncLogEntry.objects.using(self.db).filter(link_id__in=ids).exclude(link_id__in=still_there).update(
                link=None
            )
        return deleted, ({self.model._meta.label: deleted} if deleted else {})


class SyncLink(models.Model):
    """Ties one appointment to one external entry on one agent calendar.

    The hashes are of what was last synced on each side (vdirsyncer's status): a side whose
    current hash differs has changed since. A deleted appointment leaves its link (appointment
    empty) until the remote entry is deleted too.
    """

    class Approval(models.TextChoices):
        NOT_NEEDED = "", "Not needed"
        WAITING = "waiting", "Waiting for approval"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    class Origin(models.TextChoices):
        HELPDESK = "helpdesk", "Helpdesk"
        EXTERNAL = "external", "External calendar"

    # Found by the unique (agent_calendar, marker) index, which leads with it: no index of its own.
    agent_calendar = models.ForeignKey(AgentCalendar, on_delete=models.CASCADE, related_name="links", db_index=False)
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_links"
    )
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.HELPDESK)
    marker = models.CharField("UID / marker", max_length=1000, default=new_marker)
    remote_id = models.CharField(max_length=1000, blank=True, db_index=True)
    version = models.CharField("version tag", max_length=255, blank=True)
    local_hash = models.CharField(max_length=64, blank=True)
    remote_hash = models.CharField(max_length=64, blank=True)
    # What was last synced, as plain data; lets an inbound change touch only the fields that changed.
    # Sealed (encrypted) at rest when the entry is private anywhere: integrations.fields.
    snapshot = SealedSnapshotField(default=dict, blank=True, editable=False)
    span_start = models.DateTimeField(null=True, blank=True)
    span_end = models.DateTimeField(null=True, blank=True, help_text="Empty: a series without an end.")
    pending = models.BooleanField(default=False, db_index=True, help_text="A helpdesk change waits to be pushed.")
    # How many times a helpdesk change marked this link (integrations.services), raised in the
    # database (F() + 1), never written back from memory. A sync run clears `pending` only while the
    # count is still the one it read (a compare-and-set), so a change made while a push of the
    # older state is in flight stays marked and is pushed after it (trial fault 1).
    changes = models.PositiveBigIntegerField(default=0, editable=False)
    approval = models.CharField(max_length=10, choices=Approval.choices, default=Approval.NOT_NEEDED, blank=True)
    failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SyncLinkQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["agent_calendar", "marker"], name="one_link_per_marker"),
            models.UniqueConstraint(
                fields=["agent_calendar", "appointment"],
                condition=models.Q(appointment__isnull=False),
                name="one_link_per_appointment_and_calendar",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appointment or 'deleted appointment'} -> {self.agent_calendar}"

    @property
    def is_synced(self) -> bool:
        return bool(self.remote_hash or self.local_hash)


class SyncLogEntry(models.Model):
    """One inbound or outbound sync operation and how it went."""

    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    class Result(models.TextChoices):
        OK = "ok", "OK"
        CONFLICT = "conflict", "Conflict resolved"
        SKIPPED = "skipped", "Skipped"
        ERROR = "error", "Error"

    GOOGLE_SIGN_IN = "sign-in"  # the operation of the end of "Connect my Google calendar" (services)

    # Kept when the calendar is disconnected or deleted (the audit trail outlives the link): the
    # technician and the calendar's name are stamped on the entries first (services.keep_sync_log, on pre_delete).
    agent_calendar = models.ForeignKey(
        AgentCalendar, null=True, blank=True, on_delete=models.SET_NULL, related_name="log"
    )
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_log")
    calendar_label = models.CharField("calendar", max_length=255, blank=True)
    link = models.ForeignKey(SyncLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="log")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    operation = models.CharField(max_length=30)
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.OK)
    subject = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True)
    overwritten = models.JSONField(null=True, blank=True, help_text="What a conflict rule overwrote.")
    # A pulled change's line says what changed there (trial fault 7); only lines with something to
    # act on go to the sync page's "Entries that need a look" (selectors.entries_with_notes).
    routine = models.BooleanField(
        default=False,
        help_text="The message only says what changed or was deleted in the external calendar: nothing to look at.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # An entry that fails the same way at every pull keeps one line (trial F8): `tries` counts the
    # pulls that met it, `created_at` moves to the last of them, `first_at` keeps the first.
    tries = models.PositiveIntegerField(default=1, editable=False)
    first_at = models.DateTimeField("first tried", null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "sync log entry"
        verbose_name_plural = "sync log"

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.operation}: {self.get_result_display()}"
