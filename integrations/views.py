from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations import selectors, services
from integrations.models import SyncLink


def _agent(request):
    agent = getattr(request.user, "agent", None)
    if agent is None:
        raise Http404("Only technicians have external calendars.")
    return agent


@login_required
def approvals(request):
    agent = _agent(request)
    return render(request, "integrations/approvals.html", {"links": selectors.waiting_for_approval(agent)})


@login_required
@require_POST
def decide(request, pk: int):
    agent = _agent(request)
    link = get_object_or_404(SyncLink, pk=pk, agent_calendar__agent=agent, approval=SyncLink.Approval.WAITING)
    if request.POST.get("decision") == "approve":
        services.approve(link, by=request.user)
        messages.success(request, f"“{link.appointment.subject}” goes to your external calendar.")
    else:
        services.decline(link, by=request.user)
        messages.info(request, f"“{link.appointment.subject}” stays in the helpdesk only.")
    return redirect("integrations:approvals")


@login_required
def sync_health(request):
    agent = _agent(request)
    return render(
        request,
        "integrations/sync_health.html",
        {"calendars": selectors.calendars_with_health([agent]), "log": selectors.recent_log(agent)},
    )


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
