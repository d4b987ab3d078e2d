import hmac
import json
import secrets

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agents.decorators import technician_required
from integrations import selectors, services
from integrations.models import AgentCalendar, Connection, SyncLink
from integrations.providers.google.signin import new_code_verifier


def _agent(request):
    """The signed-in technician (the views that call this are `technician_required`)."""
    return request.user.agent


def _allow_sign_in_redirects(response, connections):
    """The page's "Connect" forms post here and are redirected to the connections' sign-in pages:
    the Content-Security-Policy's form-action must allow those origins too (browsers check it on
    redirects), or the browser stops on our page."""
    origins = services.sign_in_origins(connections)
    if origins:
        response._csp_update = {"form-action": origins}
    return response


@technician_required
def approvals(request):
    agent = _agent(request)
    return render(request, "integrations/approvals.html", {"links": selectors.waiting_for_approval(agent)})


@technician_required
@require_POST
def decide(request, pk: int):
    agent = _agent(request)
    link = get_object_or_404(
        SyncLink.objects.select_related("appointment", "agent_calendar__connection"),
        pk=pk,
        agent_calendar__agent=agent,
        approval=SyncLink.Approval.WAITING,
    )
    subject = link.appointment.subject or "(no subject)"
    if request.POST.get("decision") == "approve":
        services.approve(link, by=request.user)
        messages.success(
            request,
            f"Approved: “{subject}” is being added to your external calendar ({link.agent_calendar.connection}).",
        )
    else:
        services.decline(link, by=request.user)
        messages.info(
            request,
            f"Declined: “{subject}” stays off your external calendar; the coordinator sees that you declined it.",
        )
    return redirect("integrations:approvals")


@technician_required
def sync_health(request):
    agent = _agent(request)
    microsoft365 = services.delegated_connections(agent)
    response = render(
        request,
        "integrations/sync_health.html",
        {
            "calendars": selectors.calendars_with_health([agent]),
            "log": selectors.recent_log(agent),
            "notes": selectors.entries_with_notes(agent),
            "microsoft365": microsoft365,
            # The error's detail may name a shared account or say what to configure: for admins.
            "show_detail": request.user.is_staff,
        },
    )
    return _allow_sign_in_redirects(response, [m365["connection"] for m365 in microsoft365 if m365["needs_sign_in"]])


@technician_required
@require_POST
def microsoft365_connect(request, connection_id: int):
    """ "Connect my Microsoft 365 calendar": off to Microsoft's sign-in with a PKCE challenge."""
    agent = _agent(request)
    connection = get_object_or_404(Connection, pk=connection_id, kind=Connection.Kind.GRAPH, is_active=True)
    if not (connection.options or {}).get("delegated"):
        raise Http404("Technicians do not sign in on this connection.")
    redirect_uri = request.build_absolute_uri(reverse("integrations:microsoft365_callback"))
    url, pending = services.start_delegated_sign_in(agent, connection, redirect_uri)
    request.session["microsoft365_sign_in"] = pending
    return redirect(url)


@technician_required
def microsoft365_callback(request):
    """Back from Microsoft's sign-in: the code is redeemed by the worker, never in this request."""
    from integrations.tasks import finish_delegated_sign_in

    agent = _agent(request)
    pending = request.session.pop("microsoft365_sign_in", None)
    if pending is None or request.GET.get("state") != pending["state"]:
        messages.error(request, "That sign-in did not start here; please try again.")
        return redirect("integrations:sync_health")
    if "error" in request.GET:
        text = (request.GET.get("error_description") or request.GET["error"])[:300]
        messages.error(request, f"Microsoft 365 did not connect your calendar: {text}")
        return redirect("integrations:sync_health")
    finish_delegated_sign_in.delay(
        agent.pk, pending["connection"], request.GET.get("code", ""), pending["verifier"], pending["redirect_uri"]
    )
    messages.success(request, "Connecting your Microsoft 365 calendar; it shows here in a moment.")
    return redirect("integrations:sync_health")


MAX_NOTIFICATION_BYTES = 1_000_000


@csrf_exempt
@require_POST
def graph_notify(request):
    """Microsoft Graph's webhook. With `validationToken` (the subscription handshake), the token is
    echoed as text/plain within Graph's 10 s. Otherwise the notifications are only hints: for each
    one whose clientState is ours, a pull of that calendar is queued (no outbound call here); a
    lifecycle notification also queues the subscription's renewal. Answers 202 (Graph retries others)."""
    from integrations.tasks import pull_agent_calendar, renew_graph_subscriptions

    token = request.GET.get("validationToken")
    if token is not None:
        return HttpResponse(token[:1024], content_type="text/plain", status=200)
    if len(request.body) > MAX_NOTIFICATION_BYTES:
        return HttpResponseBadRequest("Too large.")
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return HttpResponseBadRequest("Not JSON.")
    to_pull, to_renew = services.graph_notification_targets(payload)
    for pk in sorted(to_pull):
        pull_agent_calendar.delay(pk)
    if to_renew:
        renew_graph_subscriptions.delay()
    return HttpResponse(status=202)


@csrf_exempt
@require_POST
def google_notify(request):
    """Google's push notification (Calendar API push guide): headers only, no body. A known channel
    with its token queues a pull and answers 200; anything else 404, with nothing done. No outbound
    call runs here."""
    known = services.google_notification(
        channel_id=request.headers.get("X-Goog-Channel-ID", ""),
        token=request.headers.get("X-Goog-Channel-Token", ""),
        state=request.headers.get("X-Goog-Resource-State", ""),
    )
    return HttpResponse(status=200 if known else 404)


GOOGLE_STATE = "google_sign_in_state"


@technician_required
def google_connect(request):
    """ "Connect my Google calendar": the Google connections where each technician signs in, the state
    of theirs ("connected", "reconnect" when Google withdrew the access), and a button that sends the
    browser to Google's consent screen with a one-time state kept in the session."""
    agent = _agent(request)
    connections = services.google_sign_in_connections()
    if request.method == "POST":
        connection = next((c for c in connections if str(c.pk) == request.POST.get("connection")), None)
        if connection is None:
            raise Http404("No such Google connection.")
        state, verifier = secrets.token_urlsafe(24), new_code_verifier()
        request.session[GOOGLE_STATE] = {"state": state, "connection": connection.pk, "verifier": verifier}
        redirect_uri = request.build_absolute_uri(reverse("integrations:google_callback"))
        return redirect(
            services.google_consent_address(
                agent, connection, redirect_uri=redirect_uri, state=state, code_verifier=verifier
            )
        )
    mine = {c.connection_id: c for c in AgentCalendar.objects.filter(agent=agent, connection__in=connections)}
    sign_ins = selectors.last_google_sign_ins(agent, connections)
    rows = [(connection, mine.get(connection.pk), sign_ins.get(connection.pk)) for connection in connections]
    return _allow_sign_in_redirects(render(request, "integrations/google_connect.html", {"rows": rows}), connections)


@technician_required
def google_callback(request):
    """Where Google sends the browser back: the state must be the one this session started with; the
    code exchange is queued for a worker (no outbound call here)."""
    agent = _agent(request)
    started = request.session.pop(GOOGLE_STATE, None) or {}
    if not started or not secrets.compare_digest(started.get("state", ""), request.GET.get("state", "")):
        messages.error(request, "That sign-in did not start here, or was already used: please start again.")
        return redirect("integrations:google_connect")
    if request.GET.get("error") or not request.GET.get("code"):
        messages.info(request, "Google access was not allowed: your calendar stays unconnected.")
        return redirect("integrations:google_connect")
    connection = get_object_or_404(Connection, pk=started["connection"], kind=Connection.Kind.GOOGLE)
    redirect_uri = request.build_absolute_uri(reverse("integrations:google_callback"))
    from integrations.tasks import finish_google_sign_in

    finish_google_sign_in.delay(agent.pk, connection.pk, request.GET["code"], redirect_uri, started.get("verifier", ""))
    messages.success(request, "Google allowed access: your calendar is being connected.")
    return redirect("integrations:google_connect")


def metrics(request):
    """Prometheus scrape of the sync's metrics (integrations/metrics.py). Answers a staff user's
    session, or `Authorization: Bearer <METRICS_TOKEN>` when that setting is set; anyone else
    gets 401. The token is compared in constant time."""
    from django.conf import settings

    from integrations import metrics as sync_metrics

    token = settings.METRICS_TOKEN
    # "Bearer" in any case (RFC 7235 section 2.1: auth schemes are case-insensitive).
    scheme, _, sent = request.headers.get("Authorization", "").strip().partition(" ")
    by_token = bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())
    if not (by_token or (request.user.is_authenticated and request.user.is_staff)):
        response = HttpResponse(
            "Send the metrics token as 'Authorization: Bearer <METRICS_TOKEN>', or sign in as staff.", status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = sync_metrics.render(accept=request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
