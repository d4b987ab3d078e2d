import json
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import formats, timezone
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

from agents.admin import TechnicianNamesInOneQuery
from integrations import selectors, services
from integrations.models import (
    AgentCalendar,
    Connection,
    ExchangeAccess,
    ExchangeAuth,
    ExchangeVersion,
    SyncLink,
    SyncLogEntry,
)
from integrations.sync import privacy

EWS_FIELDS = {"ews_version": "version", "ews_auth_type": "auth_type", "ews_access_type": "access_type"}
EWS_PATH = "/EWS/Exchange.asmx"
GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"

GOOGLE_FIELDS = {
    "google_api_endpoint": "api_endpoint",
    "google_batch_uri": "batch_uri",
    "google_token_uri": "token_uri",
}


class ConnectionForm(forms.ModelForm):
    server_url = forms.URLField(
        label="Server address",
        required=False,
        assume_scheme="https",
        help_text="CalDAV: the server's address. Exchange: the EWS address (https://mail.example.com is completed "
        f"to …{EWS_PATH}); empty to find it by autodiscover.",
    )
    secret = forms.CharField(
        label="Password / secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current one.",
    )
    # Exchange's settings: real fields, kept in `options`.
    ews_version = forms.ChoiceField(
        label="Exchange version",
        choices=ExchangeVersion.choices,
        initial=ExchangeVersion.EXCHANGE_2016,
        required=False,
        help_text="What the server runs; announcing it spares a guessing round-trip.",
    )
    ews_auth_type = forms.ChoiceField(
        label="Authentication", choices=ExchangeAuth.choices, initial=ExchangeAuth.NTLM, required=False
    )
    ews_access_type = forms.ChoiceField(
        label="Access to the technicians' mailboxes",
        choices=ExchangeAccess.choices,
        initial=ExchangeAccess.IMPERSONATION,
        required=False,
        widget=forms.RadioSelect,
        help_text="Impersonation: grant the account the ApplicationImpersonation role. Delegate: give it Editor "
        "rights on each technician's calendar.",
    )
    ews_test_mailbox = forms.EmailField(
        label="Mailbox to test with",
        required=False,
        help_text='The calendar "Test connection" opens; empty: the first connected technician\'s.',
    )

    # Microsoft 365's settings (the client id is the Account field, the client secret the secret).
    graph_tenant_id = forms.CharField(
        label="Directory (tenant) ID",
        required=False,
        help_text="From the app registration's overview in the Entra admin center (a GUID, or the tenant's domain).",
    )
    graph_authority = forms.URLField(
        label="Authority",
        required=False,
        assume_scheme="https",
        help_text="Empty: https://login.microsoftonline.com/<tenant>. National clouds: e.g. "
        "https://login.microsoftonline.us/<tenant>.",
    )

    graph_delegated = forms.BooleanField(
        label="Technicians sign in themselves",
        required=False,
        help_text='Delegated permission: each technician clicks "Connect my Microsoft 365 calendar" on their sync '
        "page (add the site's /me/sync/microsoft365/callback/ address as a Web redirect URI of the app). Off: "
        "the app's own Calendars.ReadWrite application permission reaches every mailbox the access policy allows.",
    )

    # Google's settings: the sign-in and the endpoints, kept in `options`; the key is the secret.
    google_auth = forms.ChoiceField(
        label="Google sign-in",
        choices=[
            ("service_account", "Workspace service account with domain-wide delegation"),
            ("oauth", "Each technician signs in (OAuth client)"),
        ],
        initial="service_account",
        required=False,
        widget=forms.RadioSelect,
        help_text="OAuth: enter the client id as the account and the client secret as the secret.",
    )
    google_key = forms.CharField(
        label="Service account key (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text="Paste the whole JSON key file. Stored encrypted and never shown again; leave empty to keep it.",
    )
    google_api_endpoint = forms.URLField(label="API endpoint", required=False, assume_scheme="https")
    google_batch_uri = forms.URLField(label="Batch URI", required=False, assume_scheme="https")
    google_token_uri = forms.URLField(label="Token URI", required=False, assume_scheme="https")

    class Meta:
        model = Connection
        fields = ["name", "kind", "server_url", "username", "secret", "options", "is_active"]
        labels = {"username": "Account"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        options = self.instance.options or {}
        for field, option in EWS_FIELDS.items():
            if option in options:
                self.initial[field] = options[option]
        self.initial.setdefault("ews_test_mailbox", options.get("test_mailbox", ""))
        self.initial.setdefault("graph_tenant_id", options.get("tenant_id", ""))
        self.initial.setdefault("graph_authority", options.get("authority", ""))
        self.initial.setdefault("graph_delegated", bool(options.get("delegated")))
        for field, option in GOOGLE_FIELDS.items():
            if option in options:
                self.initial[field] = options[option]
        self.initial.setdefault("google_auth", options.get("auth", "service_account"))
        if "options" in self.fields:
            self.fields["options"].required = False
            self.fields[
                "options"
            ].help_text = (
                'Extra settings, as JSON: CalDAV {"calendar_home": "/{user}/"}; Exchange\'s are the fields above.'
            )

    def clean(self) -> dict:
        cleaned = super().clean()
        cleaned["options"] = cleaned.get("options") or {}
        if cleaned.get("kind") == Connection.Kind.GRAPH:
            return self._clean_graph(cleaned)
        if cleaned.get("kind") == Connection.Kind.GOOGLE:
            return self._clean_google(cleaned)
        if cleaned.get("kind") != Connection.Kind.EWS:
            return cleaned
        url = cleaned.get("server_url") or ""
        if url and urlsplit(url).path in ("", "/"):
            cleaned["server_url"] = url.rstrip("/") + EWS_PATH
        options = dict(cleaned.get("options") or {})
        for field, option in EWS_FIELDS.items():
            options[option] = cleaned.get(field) or self.fields[field].initial
        if cleaned.get("ews_test_mailbox"):
            options["test_mailbox"] = cleaned["ews_test_mailbox"].lower()
        else:
            options.pop("test_mailbox", None)
        cleaned["options"] = options
        if not cleaned.get("secret") and not self.instance.has_secret:
            self.add_error("secret", "Enter the account's password.")
        return cleaned

    def _clean_graph(self, cleaned: dict) -> dict:
        options = dict(cleaned.get("options") or {})
        for field, option in (("graph_tenant_id", "tenant_id"), ("graph_authority", "authority")):
            if cleaned.get(field):
                options[option] = cleaned[field].strip()
            else:
                options.pop(option, None)
        if cleaned.get("graph_delegated"):
            options["delegated"] = True
        else:
            options.pop("delegated", None)
        cleaned["options"] = options
        cleaned["server_url"] = cleaned.get("server_url") or GRAPH_BASE_URL
        # The model's clean() reads the instance, which the form fills only after this method.
        self.instance.options, self.instance.server_url = options, cleaned["server_url"]
        if not cleaned.get("secret") and not self.instance.has_secret:
            self.add_error("secret", "Enter the app registration's client secret (its Value).")
        return cleaned

    def _clean_google(self, cleaned: dict) -> dict:
        options = dict(cleaned.get("options") or {})
        auth = cleaned.get("google_auth") or "service_account"
        options["auth"] = auth
        for field, option in GOOGLE_FIELDS.items():
            if cleaned.get(field):
                options[option] = cleaned[field]
            else:
                options.pop(option, None)
        if cleaned.get("ews_test_mailbox"):
            options["test_mailbox"] = cleaned["ews_test_mailbox"].lower()
        cleaned["options"] = options
        if auth == "service_account":
            key = (cleaned.get("google_key") or "").strip()
            if key:
                from integrations.providers.base import ConnectionProblem
                from integrations.providers.google import check_service_account_info

                try:
                    check_service_account_info(json.loads(key))
                    cleaned["secret"] = key
                except ValueError:
                    self.add_error("google_key", "This is not JSON: paste the whole downloaded key file.")
                except ConnectionProblem as problem:
                    self.add_error("google_key", str(problem))
            elif not self.instance.has_secret or self.instance.option("auth") != "service_account":
                self.add_error("google_key", "Enter the service account's JSON key.")
        elif not cleaned.get("secret") and not self.instance.has_secret:
            self.add_error("secret", "Enter the OAuth client secret.")
        return cleaned

    def _post_clean(self) -> None:
        # The model's own checks read the key: give it the one entered before they run.
        if self.cleaned_data.get("secret"):
            self.instance.set_secret(self.cleaned_data["secret"])
        super()._post_clean()

    def save(self, commit=True):
        connection = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            connection.set_secret(self.cleaned_data["secret"])
        if commit:
            connection.save()
        return connection


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["name", "kind", "server_url", "username", "secret_stored", "is_active", "last_test"]
    readonly_fields = ["last_test"]
    list_filter = ["kind", "is_active"]
    actions = ["test_connection"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "server_url", "username", "secret", "is_active", "last_test"]}),
        (
            "Exchange (EWS)",
            {
                "classes": ["connection-kind-ews"],
                "fields": ["ews_version", "ews_auth_type", "ews_access_type", "ews_test_mailbox"],
            },
        ),
        (
            "Microsoft 365 (Graph)",
            {"classes": ["connection-kind-graph"], "fields": ["graph_tenant_id", "graph_authority", "graph_delegated"]},
        ),
        (
            "Google Calendar",
            {
                "classes": ["connection-kind-google"],
                "fields": ["google_auth", "google_key", "google_api_endpoint", "google_batch_uri", "google_token_uri"],
            },
        ),
        ("More options", {"classes": ["connection-kind-other"], "fields": ["options"]}),
    ]

    change_form_template = "admin/integrations/connection/change_form.html"

    class Media:
        js = ["integrations/connection_form.js"]

    def get_urls(self):
        from django.urls import path

        test = path(
            "<int:pk>/test/",
            self.admin_site.admin_view(self.test_view),
            name="integrations_connection_test",
        )
        return [test, *super().get_urls()]

    def test_view(self, request, pk: int):
        """The change page's "Test connection" button: queue the test (the worker makes the calls,
        never the web request) and come back to the page, which shows the last result."""
        from django.core.exceptions import PermissionDenied
        from django.http import HttpResponseNotAllowed
        from django.shortcuts import get_object_or_404, redirect

        from integrations.tasks import run_connection_test

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection = get_object_or_404(Connection, pk=pk)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        transaction.on_commit(lambda: run_connection_test.delay(connection.pk))
        self.message_user(
            request,
            f'Testing {connection} in the background: the result shows under "Last test" in a few seconds '
            "(reload the page).",
        )
        return redirect("admin:integrations_connection_change", connection.pk)

    def save_model(self, request, obj: Connection, form, change: bool) -> None:
        """Save, and when the server address changed, move the linked calendars onto it (trial F1:
        the sync and "Test connection" must reach the same server) and say what happened."""
        old_url = form.initial.get("server_url") or ""
        super().save_model(request, obj, form, change)
        if not change or not old_url or old_url == obj.server_url:
            return
        counts = services.move_linked_calendars(obj, old_url=old_url)
        self._test_new_address(request, obj)
        if counts["moved"]:
            self.message_user(
                request,
                f"The server address changed: {counts['moved']} linked calendar(s) now sync with {obj.server_url} "
                "(each calendar's sync log says where it is read now).",
            )
        if counts["kept"]:
            self.message_user(
                request,
                f"{counts['kept']} linked calendar(s) stay where they are: {obj.server_url} is an address of "
                "the same server, from which their calendars are found as before.",
            )
        if counts["left"]:
            self.message_user(
                request,
                f"{counts['left']} linked calendar(s) are not on the old address and still point elsewhere: "
                "disconnect and link them again (their sync log names them).",
                level=messages.WARNING,
            )

    def _test_new_address(self, request, connection: Connection) -> None:
        """A new server address is tested at once, by the worker once the save is committed (never
        in the web request), as the "Test connection" button does: its outcome shows under "Last
        test" (`services.record_connection_test`)."""
        services.queue_connection_test(connection)
        self.message_user(
            request,
            f'Testing the new address {connection.server_url} in the background: the result shows under "Last '
            'test" in a few seconds (reload the page).',
        )

    @admin.display(boolean=True, description="secret stored")
    def secret_stored(self, obj: Connection) -> bool:
        return obj.has_secret

    @admin.display(description="last test")
    def last_test(self, obj: Connection) -> str:
        if obj.last_test_at is None:
            return obj.last_test_message or "not tested yet"
        verdict = "OK" if obj.last_test_ok else "Failed"
        when = formats.localize(timezone.template_localtime(obj.last_test_at))  # as admin shows every time
        return f"{verdict} ({when}): {obj.last_test_message}"

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        from integrations.tasks import run_connection_test

        for connection in queryset:
            run_connection_test.delay(connection.pk)
        self.message_user(
            request,
            f"Testing {queryset.count()} connection(s) in the background: the outcome shows in the "
            '"last test" column in a few seconds (reload the page).',
        )


class AgentCalendarForm(forms.ModelForm):
    """A technician's link to a calendar: refused, with the reason, when it would be a second link to
    a calendar already linked (SPEC S3.9) or would read another person's account unconfirmed (S5).
    What is known without an outbound call is checked here; the calendar a first sync resolves is
    checked again by the worker before anything is pushed or imported (selectors.link_refusal)."""

    remove_old_entries = forms.BooleanField(
        label="Remove the helpdesk's entries from the old calendar",
        required=False,
        initial=True,
        help_text="On a relink to another calendar (another remote calendar or calendar name): once the "
        "new calendar holds them, the entries the helpdesk put in the old calendar are deleted there, so a "
        "phone showing both shows each once. The technician's own entries stay in the old calendar.",
    )

    class Meta:
        model = AgentCalendar
        fields = ["agent", "connection", "mailbox", "calendar_id", "calendar_name", "shared_account", "state"]

    @property
    def changed_data(self) -> list[str]:
        # The tick box is a choice for this save, not data of the link: it changes nothing by itself.
        return [name for name in super().changed_data if name != "remove_old_entries"]

    def relinks(self) -> bool:
        """Does this change of a saved link point it at another calendar? Another remote calendar
        (or connection), or only another calendar name while the remote calendar stays: the name
        wins then, as the admin typed it (trial 6)."""
        if self.instance.pk is None:
            return False
        changed = set(self.changed_data)
        if {"calendar_id", "connection"} & changed:
            return True
        return "calendar_name" in changed and bool(self.cleaned_data.get("calendar_id"))

    def clean(self) -> dict:
        cleaned = super().clean()
        agent, connection = cleaned.get("agent"), cleaned.get("connection")
        if agent is None or connection is None:
            return cleaned
        mailbox = cleaned.get("mailbox") or ""
        if not selectors.account_not_theirs(agent, connection, mailbox):
            cleaned["shared_account"] = False
        refusal = selectors.link_form_refusal(
            agent,
            connection,
            link_pk=self.instance.pk,
            mailbox=mailbox,
            calendar_id=cleaned.get("calendar_id") or "",
            calendar_name=cleaned.get("calendar_name") or "",
            shared_account=bool(cleaned.get("shared_account")),
        )
        if refusal is not None:
            field, message = refusal
            if field is not None:
                self.add_error(field, message)
            else:
                self._refused = True
                raise forms.ValidationError(message)
        return cleaned

    def validate_unique(self) -> None:
        # clean() said it in plain words already; the constraint's generic message would repeat it.
        if not getattr(self, "_refused", False):
            super().validate_unique()


@admin.register(AgentCalendar)
class AgentCalendarAdmin(TechnicianNamesInOneQuery, admin.ModelAdmin):
    form = AgentCalendarForm
    list_display = ["agent", "connection", "state", "last_sync", "pending", "waiting", "next_pull_at", "last_error"]
    list_filter = ["state", "connection"]
    search_fields = ["agent__user__username", "agent__email", "calendar_id"]
    readonly_fields = [
        "last_sync",
        "last_pull_at",
        "pull_failures",
        "next_pull_at",
        "last_error",
        "last_error_at",
        "locked_until",
        "moved_from",
    ]
    actions = ["sync_now", "full_resync", "pause_sync", "resume_sync", "disconnect"]
    change_list_template = "admin/integrations/agentcalendar/change_list.html"

    def has_delete_permission(self, request, obj=None) -> bool:
        # A plain delete would leave the entries on both sides unmanaged and take the sync log with it:
        # "Disconnect" says what happens and keeps the log (services.disconnect_agent_calendar).
        return False

    @admin.action(description="Disconnect (stop syncing, keep the log, optionally clean up)")
    def disconnect(self, request, queryset):
        """A confirmation page saying what a disconnect does, with the two clean-ups to choose; on
        confirmation, each calendar is disconnected and the remote clean-up queued for the worker."""
        from django.template.response import TemplateResponse

        if not self.has_change_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        calendars = list(queryset.select_related("agent__user", "connection"))
        if request.POST.get("confirm") == "yes":
            remove_pushed = request.POST.get("remove_pushed") == "on"
            remove_imported = request.POST.get("remove_imported") == "on"
            for agent_calendar in calendars:
                services.disconnect_agent_calendar(
                    agent_calendar, remove_pushed=remove_pushed, remove_imported=remove_imported, by=request.user
                )
            self.message_user(
                request,
                f"Disconnected {len(calendars)} calendar(s): they no longer sync"
                + ("; the entries the helpdesk put on them are being removed by the worker" if remove_pushed else "")
                + ("; the appointments imported from them were removed" if remove_imported else "")
                + ". Their sync log is kept (Sync log, filtered by technician).",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Disconnect calendars",
            "opts": self.model._meta,
            "rows": [(agent_calendar, services.disconnect_counts(agent_calendar)) for agent_calendar in calendars],
            "queryset": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/integrations/agentcalendar/disconnect.html", context)

    def get_urls(self):
        from django.urls import path

        overview = path(
            "overview/", self.admin_site.admin_view(self.overview_view), name="integrations_agentcalendar_overview"
        )
        return [overview, *super().get_urls()]

    def overview_view(self, request):
        """Sync at scale: per connection the calendars, worst lag, back-offs, links waiting and
        failing; the Celery queue; the calendars backing off and those lagging most."""
        from django.core.exceptions import PermissionDenied
        from django.template.response import TemplateResponse

        from integrations import metrics, selectors

        if not self.has_view_permission(request):
            raise PermissionDenied
        overview = selectors.sync_overview()
        try:
            queues, unacked = metrics.queue_depths()
            broker_error = ""
        except Exception as error:  # shown on the page; the rest of the summary still helps
            queues, unacked, broker_error = {}, None, str(error)
        context = {
            **self.admin_site.each_context(request),
            "title": "Sync overview",
            "opts": self.model._meta,
            "overview": overview,
            "interval": selectors.pull_interval_seconds(),
            "queues": queues,
            "unacked": unacked,
            "broker_error": broker_error,
            "backing_off": overview.backing_off()[:50],
            "lagging": overview.most_lagging(20),
        }
        return TemplateResponse(request, "admin/integrations/sync_overview.html", context)

    def get_queryset(self, request):
        from django.db.models import Count, Q

        return (
            super()
            .get_queryset(request)
            .select_related("agent__user", "connection")
            .annotate(
                pending_count=Count("links", filter=Q(links__pending=True) & ~Q(links__approval="waiting")),
                waiting_count=Count("links", filter=Q(links__approval="waiting")),
            )
        )

    @admin.display(description="pending", ordering="pending_count")
    def pending(self, obj) -> int:
        return obj.pending_count

    @admin.display(description="to approve", ordering="waiting_count")
    def waiting(self, obj) -> int:
        return obj.waiting_count

    def save_model(self, request, obj, form, change):
        """A calendar added here is found (when no remote id is given) and synced by the worker."""
        relinked = change and form.relinks()
        if relinked:
            # Its first listing must not take the linked entries it lacks for deleted ones; the named
            # calendar is found by the worker, never in this request.
            changed = set(form.changed_data)
            services.mark_relinked(
                obj,
                old_calendar=form.initial.get("calendar_id") or "",
                by_name=not {"calendar_id", "connection"} & changed,
                # The old calendar is reached through this connection only.
                remove_old=bool(form.cleaned_data.get("remove_old_entries")) and "connection" not in changed,
            )
        if change and "state" in form.changed_data:
            # The state is the service's to write: it logs who changed it and queues what waited.
            if set(form.changed_data) != {"state"}:
                others = [
                    field.name for field in obj._meta.concrete_fields if not field.primary_key and field.name != "state"
                ]
                obj.save(update_fields=others)
            services.set_state([obj], state=obj.state, by=request.user)
            return
        super().save_model(request, obj, form, change)
        if relinked:
            from integrations.tasks import pull_agent_calendar

            pk = obj.pk
            transaction.on_commit(lambda: pull_agent_calendar.delay(pk))
        if not change:
            from integrations.tasks import pull_agent_calendar

            services.queue_existing_appointments(obj, since=timezone.now())

            pk = obj.pk
            transaction.on_commit(lambda: pull_agent_calendar.delay(pk))

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        from integrations.tasks import pull_agent_calendar

        for agent_calendar in queryset:
            pull_agent_calendar.delay(agent_calendar.pk)
        self.message_user(request, f"Queued a sync of {queryset.count()} calendar(s).")

    @admin.action(description="Pause sync")
    def pause_sync(self, request, queryset):
        paused = services.set_paused(queryset, paused=True, by=request.user)
        self.message_user(request, f"Paused {paused} calendar(s): helpdesk changes wait (counted as pending).")

    @admin.action(description="Resume sync (and send what waited)")
    def resume_sync(self, request, queryset):
        resumed = services.set_paused(queryset, paused=False, by=request.user)
        self.message_user(request, f"Resumed {resumed} calendar(s); queued a push of what waited.")

    @admin.action(description="Full resync of the import window")
    def full_resync(self, request, queryset):
        from integrations.tasks import pull_agent_calendar

        queryset.update(sync_token="")
        for agent_calendar in queryset:
            pull_agent_calendar.delay(agent_calendar.pk)
        self.message_user(request, f"Queued a full resync of {queryset.count()} calendar(s).")


@admin.register(SyncLink)
class SyncLinkAdmin(admin.ModelAdmin):
    list_display = ["appointment", "agent_calendar", "origin", "pending", "approval", "failures", "last_synced_at"]
    # Named by their appointment and "technician on connection": read with the rows, not one query a row.
    list_select_related = ["appointment", "agent_calendar__agent__user", "agent_calendar__connection"]
    list_filter = ["pending", "approval", "origin", "agent_calendar__connection"]
    raw_id_fields = ["appointment", "agent_calendar"]
    readonly_fields = ["marker", "remote_id", "version", "local_hash", "remote_hash", "last_synced", "last_error"]

    @admin.display(description="last synced (snapshot)")
    def last_synced(self, link: SyncLink) -> str:
        """The snapshot, or for a private entry only that it is sealed (calendars.privacy)."""
        if privacy.link_is_private(link):
            return f"{privacy.PRIVATE_LABEL}: kept encrypted for updates, not shown"
        return json.dumps(link.snapshot, indent=1, sort_keys=True, default=str)


@admin.register(SyncLogEntry)
class SyncLogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "calendar", "direction", "operation", "result", "subject", "message"]
    list_filter = ["direction", "result", "operation", "agent_calendar__connection", "agent_calendar__agent", "agent"]
    search_fields = ["subject", "message"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in SyncLogEntry._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent_calendar__agent__user", "agent_calendar__connection")

    @admin.display(description="calendar", ordering="agent_calendar")
    def calendar(self, entry: SyncLogEntry) -> str:
        """The calendar, or for one since disconnected its name as it was then."""
        if entry.agent_calendar is not None:
            return str(entry.agent_calendar)
        return f"{entry.calendar_label or 'a removed calendar'} (disconnected)"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # An audit trail: only the retention setting prunes it (integrations.services.prune_sync_log).
        return False


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    """django_celery_beat's Periodic tasks, where admins change the pull interval (README): its
    edit page's inline script is a static file here (the library's template runs it inline, which
    the site's CSP, script-src 'self', blocks), so the policy needs no hash and no 'unsafe-inline'."""

    change_form_template = "admin/integrations/periodictask/change_form.html"


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
