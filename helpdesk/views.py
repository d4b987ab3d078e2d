from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone

from calendars import privacy
from calendars.selectors import calendar_appointments
from helpdesk import permissions


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The start page: a technician's entries of today (on their own clock), and where to go
    next for technicians, coordinators and admins."""
    agent = permissions.agent_of(request.user)
    today = timezone.localdate()
    entries = None
    if agent is not None:
        zone = timezone.get_current_timezone()
        start = datetime.combine(today, time(0), tzinfo=zone)
        end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
        rows = calendar_appointments(start, end, agents=[agent.pk]).select_related("request").order_by("start")
        entries = [{"appointment": row, "subject": privacy.shown_subject(row)} for row in rows]
    return render(
        request,
        "home.html",
        {
            "agent": agent,
            "today": today,
            "entries": entries,
            "coordinator": permissions.is_coordinator(request.user),
        },
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on pages that name no icon (admin, API docs): the
    site's icon (static/favicon.svg, linked from base.html), so no page logs a 404 for it."""
    return redirect(static("favicon.svg"))
