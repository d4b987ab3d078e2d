"""Request pages: list, create, edit, detail with actions and the "Appointments" tab."""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from agents.models import Agent
from calendars import services as calendar_services
from calendars.availability import Options
from calendars.forms import AppointmentForm
from calendars.models import CalendarSettings
from calendars.selectors import calendar_appointments
from calendars.times import end_after, next_whole_hour, parse_moment, rounded_on_wall_clock
from helpdesk import permissions
from helpdesk.moments import when_text
from helpdesk.parsing import parse_ids
from integrations.selectors import external_calendar_lines
from integrations.services import answer_push_choice
from tickets import selectors, services
from tickets.forms import ActionForm, FindSlotForm, RequestFilterForm, RequestForm, add_errors
from tickets.models import Action

PAGE_SIZE = 50


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    form = RequestFilterForm(request.GET or None)
    # A bad value (an old bookmark, a typo) drops only its own filter; the page says which.
    form.is_valid()  # runs the checks: cleaned_data then holds only the fields that passed
    filters = form.cleaned_data if form.is_bound else {}
    agent = filters.get("agent")
    team = filters.get("team")
    requests = selectors.request_list(
        status=filters.get("status") or None,
        agents=[agent.pk] if agent else None,
        team=team.pk if team else None,
        search=filters.get("q", ""),
    )
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tickets/request_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "can_create": permissions.can_create_request(request.user),
        },
    )


@login_required
def request_create(request: HttpRequest) -> HttpResponse:
    if not permissions.can_create_request(request.user):
        raise PermissionDenied
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check_overlap = form.check_overlap()
        created = form.save_with(
            lambda: services.create_request(by=request.user, check_overlap=check_overlap, **form.cleaned_data)
        )
        if created is not None:
            messages.success(request, f"Request #{created.number} created.")
            return redirect("tickets:detail", pk=created.pk)
    return render(request, "tickets/request_form.html", {"form": form, "ticket": None})


@login_required
def request_edit(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(selectors.request_detail(pk))
    if not permissions.can_edit_request(request.user, ticket):
        raise PermissionDenied
    form = RequestForm(request.POST) if request.method == "POST" else RequestForm.for_request(ticket)
    if request.method == "POST" and form.is_valid():
        check_overlap = form.check_overlap()
        data = dict(form.cleaned_data)
        agents = data.pop("assigned_agents")
        saved = form.save_with(
            lambda: services.update_request(
                ticket, by=request.user, assigned_agents=agents, check_overlap=check_overlap, **data
            )
        )
        if saved is not None:
            messages.success(request, f"Request #{ticket.number} saved.")
            return redirect("tickets:detail", pk=ticket.pk)
    return render(request, "tickets/request_form.html", {"form": form, "ticket": ticket})


@login_required
@require_POST
def request_delete(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(selectors.request_detail(pk))
    if not permissions.can_delete_request(request.user, ticket):
        raise PermissionDenied
    services.delete_request(ticket, by=request.user)
    messages.success(request, f"Request #{pk} deleted.")
    return redirect("tickets:list")


def _action_form(
    request: HttpRequest, ticket, data=None, settings: CalendarSettings | None = None
) -> ActionForm | None:
    user = request.user
    if not permissions.can_log_action(user, ticket):
        return None
    own = None if permissions.is_coordinator(user) else permissions.agent_of(user)
    # Whose work it is, unless the user says otherwise: their own, or else (a coordinator without
    # a technician profile) the request's one technician.
    assigned = list(ticket.assigned_agents.all())
    settings = settings or CalendarSettings.load()
    # Defaults that save clicks (trial 14): started now (to the 5 minutes before, so never in the
    # future), and as long as the request's estimate (else the site's default estimate).
    return ActionForm(
        data,
        show_add_to_calendar=settings.show_add_to_calendar,
        agent=own,
        initial={
            "agent": permissions.agent_of(user) or (assigned[0] if len(assigned) == 1 else None),
            "done_at": rounded_on_wall_clock(timezone.now(), minutes=5),
            "time_taken": ticket.estimate or settings.default_estimate or 0,
        },
        prefix="action",
    )


def _appointment_form(
    request: HttpRequest, ticket, data=None, settings: CalendarSettings | None = None
) -> AppointmentForm | None:
    # Anyone who may edit the request may plan appointments on it, for any technician.
    if not permissions.can_edit_request(request.user, ticket):
        return None
    # Defaults that save clicks (trial 14): from the next whole hour, for the request's estimate
    # (else the site's default estimate).
    start = timezone.localtime(next_whole_hour(timezone.now(), timezone.get_current_timezone()))
    estimate = ticket.estimate or (settings or CalendarSettings.load()).default_estimate
    return AppointmentForm(
        data,
        asking=permissions.agent_of(request.user),
        prefix="appointment",
        initial={
            "subject": f"#{ticket.pk} {ticket.summary}"[:255],
            "agents": list(ticket.assigned_agents.all()),
            "start": start,
            "end": end_after(start, estimate) if estimate else None,
        },
    )


def _finder(request: HttpRequest, ticket) -> dict | None:
    """ "Find a slot" on the request page, for those who may plan it: {"form": FindSlotForm},
    and once asked for (?find=1, with a team, travel buffer and minimum notice, optionally) and
    the form is valid, the team, the estimate and the proposals. A refused form keeps what was
    typed and says why; nothing is searched."""
    if not permissions.can_edit_request(request.user, ticket):
        return None
    asked = request.GET.get("find") == "1"
    form = FindSlotForm(request.GET if asked else None)
    if not asked or not form.is_valid():
        return {"form": form}
    team = form.cleaned_data["team"]
    try:
        found = selectors.slot_proposals(
            ticket,
            team=team,
            buffer=form.cleaned_data["buffer"],
            notice=form.cleaned_data["notice"],
            after=form.cleaned_data["after"],
        )
    except ValueError as error:
        form.add_error("after", str(error))
        return {"form": form}
    proposals = [
        {
            "start": slot.start,
            "end": slot.end,
            "agents": [found.agents[i] for i in slot.agent_ids[: 1 if team else None]],
        }
        for slot in found.slots
    ]
    if found.too_long:
        split = found.split
        return {
            "form": form,
            "team": team,
            "estimate": found.estimate,
            "too_long": True,
            "longest_day": found.longest_day,
            "split_refused": found.split_refused,
            "split": split
            and {
                "parts": [{"start": begin, "end": finish, "length": finish - begin} for begin, finish in split.parts],
                "agents": [found.agents[i] for i in split.agent_ids],
            },
            "searched_from": found.searched_from,
            "searched_until": found.searched_until,
        }
    later = None
    if found.slots:
        # "Later slots": the same search from the next start on the grid after the last proposal
        # (calendars.availability.Options.step), the rest of its day included.
        query = request.GET.copy()
        query["later_than"] = (found.slots[-1].start + Options(duration=found.estimate).step).isoformat()
        later = "?" + query.urlencode() + "#find-slot"
    return {
        "form": form,
        "team": team,
        "estimate": found.estimate,
        "proposals": proposals,
        "searched_from": found.searched_from,
        "searched_until": found.searched_until,
        "later": later,
        "found_all": len(proposals) < selectors.PROPOSALS,
    }


def _detail(request: HttpRequest, ticket, *, action_form=None, appointment_form=None, tab="actions"):
    """The request page; with a refused form, that form shown again with its errors (200, like
    every page form: tests/web/test_invalid_forms.py)."""
    actions = list(selectors.actions_of(ticket))
    appointments = list(calendar_appointments(request=ticket.pk))
    # Per technician: waiting for their approval, declined, or on their calendar.
    lines = external_calendar_lines(appointments)
    for appointment in appointments:
        appointment.external_calendars = lines[appointment.pk]
    settings = CalendarSettings.load()  # once, for both forms' defaults
    return render(
        request,
        "tickets/request_detail.html",
        {
            "ticket": ticket,
            "tab": tab,
            "actions": [(action, permissions.can_edit_action(request.user, action)) for action in actions],
            "appointments": appointments,
            "history": list(selectors.history_of(ticket)),
            "action_form": action_form or _action_form(request, ticket, settings=settings),
            "appointment_form": appointment_form or _appointment_form(request, ticket, settings=settings),
            "can_edit": permissions.can_edit_request(request.user, ticket),
            "can_delete": permissions.can_delete_request(request.user, ticket),
            "finder": _finder(request, ticket),
        },
    )


def _posted_agents(request: HttpRequest) -> list[Agent]:
    """The active technicians a booking form posted (`agent`, repeated); a value that is not an
    id (helpdesk.parsing.parse_ids) is said on the page, and none is then read."""
    try:
        agent_ids = parse_ids(request.POST.getlist("agent"), name="agent")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return []
    return list(Agent.objects.filter(pk__in=agent_ids, is_active=True))


@login_required
@require_POST
def book_slot(request: HttpRequest, pk: int) -> HttpResponse:
    """Book a proposed slot with one click: plan the request then, with those technicians."""
    ticket = get_object_or_404(selectors.request_detail(pk))
    if not permissions.can_edit_request(request.user, ticket):
        raise PermissionDenied
    start = _posted_moment(request.POST.get("start", ""))
    agents = _posted_agents(request)
    if start is None or not agents:
        messages.error(request, "That slot could not be read; find a slot again.")
        return redirect(reverse("tickets:detail", args=[ticket.pk]) + "?find=1")
    confirmed = request.POST.get("confirm_overlap") == "1"
    try:
        # Proposed as free, but taken since (another booking, an imported entry): say by what.
        # A slot holds the whole estimate: the planned appointment is no longer a split's first part.
        booking = services.book_slot(ticket, start=start, agents=agents, by=request.user, check_overlap=not confirmed)
    except calendar_services.OverlapWarning as error:
        if not error.overlaps:
            hidden = [("start", start.isoformat()), *(("agent", agent.pk) for agent in agents)]
            return _ask_outside_hours(request, ticket, error, reverse("tickets:book-slot", args=[ticket.pk]), hidden)
        taken = error.named(timezone.get_current_timezone())
        messages.error(request, f"That slot is no longer free ({taken}); here are the next ones.")
        return redirect(reverse("tickets:detail", args=[ticket.pk]) + "?find=1")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(reverse("tickets:detail", args=[ticket.pk]) + "?find=1")
    names = ", ".join(agent.name for agent in agents)
    _booked(request, f"Planned for {when_text(start)} with {names}.", booking)
    return redirect(reverse("tickets:detail", args=[ticket.pk]) + "?tab=appointments")


def _ask_outside_hours(
    request: HttpRequest, ticket, warning: calendar_services.OverlapWarning, action: str, hidden: list
) -> HttpResponse:
    """Ask before booking outside working hours (SPEC S6.3, as for an overlap): a page naming each
    technician's hours it leaves, with "Book anyway" posting the same booking confirmed. Nothing
    is saved until then."""
    zone = timezone.get_current_timezone()
    context = {
        "ticket": ticket,
        "reasons": [outside.message(zone) for outside in warning.outside],
        "action": action,
        "hidden": hidden,
        "back": reverse("tickets:detail", args=[ticket.pk]) + "?find=1",
    }
    return render(request, "tickets/confirm_booking.html", context)


def _booked(request: HttpRequest, planned: str, booking: services.Booking) -> None:
    """The message after a booking: when was planned, and which later parts of the earlier booking
    it replaced (a warning when one of them had been changed by hand since it was booked), and the
    change of technicians it made, in the history's words (trial F-BOOK-REASSIGN)."""
    if booking.reassigned:
        planned = f"{planned} {booking.reassigned}."
    if not booking.replaced:
        messages.success(request, planned)
        return
    zone = timezone.get_current_timezone()
    removed = "; ".join(part.describe(zone) for part in booking.replaced)
    text = f"{planned} This replaces the earlier booking: removed {removed}."
    if any(part.edited for part in booking.replaced):
        messages.warning(request, text)
    else:
        messages.success(request, text)


def _posted_moment(text: str) -> datetime | None:
    """An aware instant a booking form sends (ISO 8601 with its offset, as the page writes it), or
    None when it cannot be read (calendars.times.parse_moment says why; the page offers the slots
    again, which a person does not type)."""
    try:
        return parse_moment(text, timezone.get_current_timezone(), offset_required=True)
    except ValueError:
        return None


def _parts_posted(post) -> list[tuple]:
    """The (start, end) parts a "Book in parts" form sends (aware instants), or [] when one of
    them cannot be read (`_posted_moment`)."""
    starts, ends = post.getlist("part_start"), post.getlist("part_end")
    parts = [(_posted_moment(begin), _posted_moment(finish)) for begin, finish in zip(starts, ends, strict=False)]
    readable = len(starts) == len(ends) and all(moment is not None for part in parts for moment in part)
    return parts if readable else []


@login_required
@require_POST
def book_split(request: HttpRequest, pk: int) -> HttpResponse:
    """Book a proposed split in one click: the request planned at its first part, one appointment
    on the request for each later part (tickets.services.book_split)."""
    ticket = get_object_or_404(selectors.request_detail(pk))
    if not permissions.can_edit_request(request.user, ticket):
        raise PermissionDenied
    again = reverse("tickets:detail", args=[ticket.pk]) + "?find=1"
    parts = _parts_posted(request.POST)
    agents = _posted_agents(request)
    if not parts or not agents:
        messages.error(request, "Those parts could not be read; find a slot again.")
        return redirect(again)
    confirmed = request.POST.get("confirm_overlap") == "1"
    try:
        booking = services.book_split(ticket, parts=parts, agents=agents, by=request.user, check_overlap=not confirmed)
    except calendar_services.OverlapWarning as error:
        if not error.overlaps:
            hidden = [
                *(
                    (name, moment.isoformat())
                    for begin, finish in parts
                    for name, moment in (("part_start", begin), ("part_end", finish))
                ),
                *(("agent", agent.pk) for agent in agents),
            ]
            return _ask_outside_hours(request, ticket, error, reverse("tickets:book-split", args=[ticket.pk]), hidden)
        taken = error.named(timezone.get_current_timezone())
        messages.error(request, f"Those parts are no longer free ({taken}); here is the next proposal.")
        return redirect(again)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(again)
    names = ", ".join(agent.name for agent in agents)
    _booked(request, f"Planned in {len(parts)} parts from {when_text(parts[0][0])} with {names}.", booking)
    return redirect(reverse("tickets:detail", args=[ticket.pk]) + "?tab=appointments")


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(selectors.request_detail(pk))
    tab = "appointments" if request.GET.get("tab") == "appointments" else "actions"
    return _detail(request, ticket, tab=tab)


@login_required
@require_POST
def action_create(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(selectors.request_detail(pk))
    form = _action_form(request, ticket, request.POST)
    if form is None:
        raise PermissionDenied
    if form.is_valid():
        try:
            services.log_action(ticket, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Action added.")
            return redirect("tickets:detail", pk=ticket.pk)
    return _detail(request, ticket, action_form=form)


@login_required
@require_POST
def action_delete(request: HttpRequest, pk: int, action_pk: int) -> HttpResponse:
    action = get_object_or_404(Action.objects.select_related("request"), pk=action_pk, request_id=pk)
    if not permissions.can_delete_action(request.user, action):
        raise PermissionDenied
    services.delete_action(action, by=request.user)
    messages.success(request, "Action deleted.")
    return redirect("tickets:detail", pk=pk)


@login_required
@require_POST
def appointment_create(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(selectors.request_detail(pk))
    form = _appointment_form(request, ticket, request.POST)
    if form is None:
        raise PermissionDenied
    if form.is_valid():
        one_each = form.cleaned_data.get("entries") != AppointmentForm.SHARED
        made = form.save_with(
            lambda: calendar_services.create_appointments(
                one_each=one_each,
                rule=form.recurrence_rule(),
                request=ticket,
                by=request.user,
                **form.service_fields(),
            )
        )
        if made is not None:
            answer_push_choice(made, form.push_choice(), agent=permissions.agent_of(request.user), by=request.user)
            messages.success(request, AppointmentForm.created_message(made))
            return redirect(reverse("tickets:detail", args=[ticket.pk]) + "?tab=appointments")
    return _detail(request, ticket, appointment_form=form, tab="appointments")
