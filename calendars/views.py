"""Calendar pages: the personal and the group calendar (the widget reads /api/appointments/),
and the pages to create, open, edit and delete one appointment."""

from datetime import date, datetime, timedelta
from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from agents.models import Agent, Team
from calendars import conflict_words, ownership, services, times
from calendars.forms import AppointmentForm
from calendars.models import Appointment, CalendarSettings, EditScope
from calendars.selectors import calendar_agents, can_stop_repeating, series_exceptions, working_hours
from calendars.series_words import dropped_exceptions_text, rule_in_words, skipped_months
from calendars.times import zone_label
from helpdesk import permissions
from helpdesk.api_common import parse_bool
from helpdesk.moments import DAY_FORMAT, TIME_FORMAT, WHEN_FORMAT, day_text
from helpdesk.parsing import is_whole_number, parse_id, shown_text
from integrations.selectors import external_calendar_lines
from integrations.services import answer_push_choice

LAYOUTS = {
    "columns": ("resourceTimeGrid", "Technicians as columns"),
    "rows": ("resourceTimeline", "Technicians as rows"),
    "grid": ("timeGrid", "All in one grid"),
}
SLOT_MINUTES = (5, 10, 15, 30, 60)
PERSONAL_VIEWS = ("timeGridDay", "timeGridWeek", "dayGridMonth", "listWeek")
MAX_DAYS = 31
# "Free slots for" on the group calendar: durations in minutes, 0 for none.
FREE_SLOT_MINUTES = (0, 30, 60, 90, 120, 180, 240, 480)


def _ignored(request: HttpRequest, name: str, value: str, why: str, shown: object) -> None:
    """Say on the page that a link's value was not used and what is shown instead: a bookmark still
    opens the calendar, but never silently as something else. The value is shortened (external
    text); the template escapes it."""
    messages.warning(request, f'The link\'s {name} "{shown_text(value)}" {why}, so the calendar shows {shown}.')


_MAX_DIGITS = 6  # more than any link's number (days, minutes) needs


def _number(
    request: HttpRequest, name: str, default: int, *, low: int, high: int, choices: tuple[int, ...] = ()
) -> int:
    """The whole number `name` of the link, from `low` to `high` (one of `choices` when given);
    absent or empty: `default`. One out of range is brought into it, any other bad one gives
    `default`, each said on the page (`_ignored`)."""
    value = request.GET.get(name, "").strip()
    if not value:
        return default
    if not is_whole_number(value, signed=True):
        _ignored(request, name, value, "is not a whole number", default)
        return default
    # A bound on the text before int(): Python refuses more than 4,300 digits (a ValueError, a 500),
    # and every value a link may hold has a few; a longer one is simply out of range.
    outside = low - 1 if value.startswith("-") else high + 1
    number = outside if len(value.lstrip("+-").lstrip("0")) > _MAX_DIGITS else int(value)
    if not low <= number <= high:
        kept = min(max(number, low), high)
        _ignored(request, name, value, f"is not from {low} to {high}", kept)
        number = kept
    if choices and number not in choices:
        _ignored(request, name, value, "is not one of " + ", ".join(str(choice) for choice in choices), default)
        return default
    return number


def _ids(request: HttpRequest, values: list[str], *, name: str) -> list[int]:
    """The ids among a link's `values` (helpdesk.parsing.parse_id); each one that is not an id is
    said on the page and left out, so an old bookmark still opens the calendar."""
    ids = []
    for value in values:
        if value.strip():
            try:
                ids.append(parse_id(value, name=name))
            except ValidationError as error:
                messages.warning(request, " ".join(error.messages))
    return ids


def _first_day(request: HttpRequest) -> date:
    """The link's `date` (ISO 8601, YYYY-MM-DD), or today on the user's clock when there is none or
    it cannot be read (said on the page)."""
    value = request.GET.get("date", "").strip()
    today = timezone.localdate()
    if not value:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        _ignored(request, "date", value, "is not a day written YYYY-MM-DD", f"today ({day_text(today)})")
        return today


def _choice(request: HttpRequest, name: str, allowed, default: str) -> str:
    """The link's `name` among `allowed` (absent: `default`); another one is said and replaced."""
    value = request.GET.get(name)
    if value is None or value == "":
        return default
    if value not in allowed:
        _ignored(request, name, value, "is not one of " + ", ".join(allowed), default)
        return default
    return value


def _resource(agent: Agent, settings: CalendarSettings) -> dict:
    hours = working_hours(agent, settings)
    return {
        "id": agent.pk,
        "title": agent.name,
        "eventBackgroundColor": agent.colour,
        "extendedProps": {
            "colour": agent.colour,
            # The widget counts weekdays from Sunday = 0; ours from Monday = 0.
            "workingDays": [(day + 1) % 7 for day in hours.days],
            # On the technician's own clock (`zone`); the widget shades and checks the hours
            # the server converts for it (/api/working-hours/), never these.
            "workingStart": hours.start.strftime("%H:%M"),
            "workingEnd": hours.end.strftime("%H:%M"),
            "zone": str(agent.zone),
        },
    }


def _scroll_time(agents: list[Agent], first_day: date, settings: CalendarSettings) -> str:
    """ "HH:MM" on the viewer's wall clock where day and week views open: the earliest start of
    the technicians' working hours (each on their own clock) in the week from `first_day`."""
    from calendars.availability import working_hours_for

    zone = timezone.get_current_timezone()
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=zone)
    hours = working_hours_for(agents, start=start, end=start + timedelta(days=7), settings=settings)
    starts = [timezone.localtime(begin, zone).time() for found in hours.values() for begin, _ in found]
    return min(starts).strftime("%H:%M") if starts else "07:00"


def _widget_config(request: HttpRequest, **config) -> dict:
    """What calendar.js needs: URLs, and the user's clock (the widget shows and sends wall-clock
    times on the user's zone; `utcOffset`, "+HH:MM" now, places "today" and the now line)."""
    from calendars.availability import MAX_TECHNICIANS

    return {
        "utcOffset": timezone.localtime().isoformat()[-6:],
        # The user's IANA zone: a drag keeps an entry's exact length on its rules (calendar.js).
        "timeZone": timezone.get_current_timezone_name(),
        "maxTechnicians": MAX_TECHNICIANS,
        "appointmentsUrl": reverse("api:appointment-list"),
        "calendarUrl": reverse("api:appointment-calendar"),
        "workingHoursUrl": reverse("api:working-hours"),
        "newUrl": reverse("calendars:appointment-create"),
        "detailUrl": reverse("calendars:appointment-detail", args=[0]).replace("/0/", "/{id}/"),
        "csrfToken": get_token(request),
        # Said when a drag tries to give an imported entry to another technician (calendars.ownership).
        "keepsTechniciansMessage": ownership.refusal(()),
        # The question before saving a drag that double-books or leaves working hours, in the forms' words.
        "conflictWords": conflict_words.script_words(),
        **config,
    }


def _creatable(resource: dict, user, agent: Agent) -> dict:
    """The resource with `extendedProps.canCreate`: whether a click in its column may open the
    appointment form (the rule the save checks)."""
    resource["extendedProps"]["canCreate"] = permissions.can_create_appointment(user, agents=[agent])
    return resource


def _offer_only_choosable(form: AppointmentForm, user) -> AppointmentForm:
    """Limit the form's technicians to those this user may put on a new appointment (the save's
    rule): a technician only herself, coordinators and admins everyone."""
    field = form.fields["agents"]
    allowed = [agent.pk for agent in field.queryset if permissions.can_create_appointment(user, agents=[agent])]
    field.queryset = field.queryset.filter(pk__in=allowed)
    if len(allowed) == 1 and "entries" in form.fields:
        # Only herself to choose: no "With several technicians" question, and she is ticked
        # (trial 14).
        del form.fields["entries"]
        form.initial.setdefault("agents", allowed)
    return form


def _calendar_off(request: HttpRequest, settings: CalendarSettings) -> HttpResponse | None:
    if not settings.calendar_enabled:
        return render(request, "calendars/off.html", {"reason": "The calendar is switched off."})
    return None


@login_required
def personal(request: HttpRequest) -> HttpResponse:
    """One technician's calendar: their own, or (for anyone) another technician's, read as allowed."""
    settings = CalendarSettings.load()
    off = _calendar_off(request, settings)
    if off:
        return off
    own = permissions.agent_of(request.user)
    chosen = _ids(request, [request.GET.get("agent", "")], name="agent")
    agent = get_object_or_404(calendar_agents(), pk=chosen[0]) if chosen else own
    if agent is None:
        return render(request, "calendars/choose_agent.html", {"agents": calendar_agents()})
    if agent == own and not agent.calendar_shown:
        return render(request, "calendars/off.html", {"reason": "Your calendar is hidden; an admin can show it."})
    view = _choice(request, "view", PERSONAL_VIEWS, "timeGridWeek")
    first_day = _first_day(request)
    config = _widget_config(
        request,
        mode="personal",
        view=view,
        date=first_day.isoformat(),
        scrollTime=_scroll_time([agent], first_day, settings),
        agents=[agent.pk],
        resources=[_resource(agent, settings)],
        recurring=parse_bool(request.GET.get("recurring")),
        canCreate=permissions.can_create_appointment(request.user, agents=[agent]),
    )
    return render(
        request,
        "calendars/personal.html",
        {"agent": agent, "config": config, "agents": calendar_agents(), "recurring": config["recurring"]},
    )


@login_required
def group(request: HttpRequest) -> HttpResponse:
    """Many technicians side by side; every choice is in the URL so a view can be bookmarked."""
    settings = CalendarSettings.load()
    off = _calendar_off(request, settings)
    if off:
        return off
    team_ids = _ids(request, [request.GET.get("team", "")], name="team")
    team = Team.objects.filter(pk=team_ids[0]).first() if team_ids else None
    if team_ids and team is None:
        _ignored(request, "team", str(team_ids[0]), "is no team", "every technician")
    chosen = _ids(request, request.GET.getlist("agent"), name="agent")
    agents = list(calendar_agents(ids=chosen or None, team=team.pk if team else None))
    _say_left_out(request, chosen, agents, team)
    if chosen and not agents:
        chosen = []  # none of them: as if none was chosen (`_say_left_out` said so)
        agents = list(calendar_agents(team=team.pk if team else None))
    layout = _choice(request, "layout", LAYOUTS, "columns")
    days = _number(request, "days", 1 if layout == "columns" else 7, low=1, high=MAX_DAYS)
    slot = _number(request, "slot", 30, low=5, high=60, choices=SLOT_MINUTES)
    first_day = _first_day(request)
    free = _number(request, "free", 0, low=0, high=480, choices=FREE_SLOT_MINUTES)
    config = _widget_config(
        request,
        mode="group",
        freeMinutes=free,
        availabilityUrl=reverse("api:availability"),
        layout=layout,
        view=LAYOUTS[layout][0],
        days=days,
        slotMinutes=slot,
        date=first_day.isoformat(),
        scrollTime=_scroll_time(agents, first_day, settings),
        team=team.pk if team else None,
        agents=[agent.pk for agent in agents] if chosen else [],
        resources=[_creatable(_resource(agent, settings), request.user, agent) for agent in agents],
        recurring=parse_bool(request.GET.get("recurring")),
        canCreate=permissions.can_create_request(request.user),
    )
    return render(
        request,
        "calendars/group.html",
        {
            "config": config,
            "teams": Team.objects.all(),
            "all_agents": calendar_agents(),
            "chosen": set(chosen),
            "team": team,
            "layout": layout,
            "layouts": [(key, label) for key, (_, label) in LAYOUTS.items()],
            "days": days,
            "slot": slot,
            "slots": SLOT_MINUTES,
            "free": free,
            "free_choices": FREE_SLOT_MINUTES[1:],
            "date": first_day,
            "recurring": config["recurring"],
        },
    )


def _say_left_out(request: HttpRequest, chosen: list[int], agents: list[Agent], team: Team | None) -> None:
    """Name the chosen technician ids the group calendar does not show: no active technician with
    that id, or (with a team) not in it. Read from the technicians shown: no query."""
    shown = {agent.pk for agent in agents}
    missing = [str(pk) for pk in chosen if pk not in shown]
    if not missing:
        return
    among = f"in team {team.name}" if team else "among the active technicians"
    left = "the others chosen" if agents else (f"every technician of team {team.name}" if team else "every technician")
    noun = "technician ids" if len(missing) > 1 else "technician id"
    messages.warning(request, f"No {noun} {', '.join(missing)} {among}: left out, so the calendar shows {left}.")


def _linked_moment(request: HttpRequest, name: str) -> datetime | None:
    """The `name` time of a link to the new-appointment form (a click on the calendar) on the
    user's clock (calendars.times.parse_moment: a skipped or repeated wall-clock time as RFC 5545
    3.3.5 reads it, shown as a time that exists), or None when there is none. One that cannot be
    read opens the form at its default time, saying why (a far date would have answered 500)."""
    text = request.GET.get(name)
    if not text:
        return None
    zone = timezone.get_current_timezone()
    try:
        return times.parse_moment(text, zone).astimezone(zone)
    except ValueError as error:
        messages.warning(request, f"The link's {name} could not be read, so the form shows its own: {error}")
        return None


def _warn_skipped_months(request: HttpRequest, master: Appointment) -> None:
    """Say which months a series just made or given a new rule skips (a monthly rule on the 29th to
    31st, RFC 5545 3.3.10): valid, so saved, but never silent. The copies made for several
    technicians share one rule: said once."""
    for skipped in skipped_months(master):
        messages.warning(request, skipped.text(on_page=True))


@login_required
def appointment_create(request: HttpRequest) -> HttpResponse:
    """A standalone appointment (clicking an empty slot on the calendar comes here)."""
    own = permissions.agent_of(request.user)
    if own is None and not permissions.is_coordinator(request.user):
        raise PermissionDenied
    if request.method == "POST":
        form = _offer_only_choosable(AppointmentForm(request.POST, asking=own), request.user)
        if form.is_valid():
            agents = form.cleaned_data["agents"]
            if not permissions.can_create_appointment(request.user, agents=agents):
                form.add_error("agents", "You may create appointments only on your own calendar.")
            else:
                one_each = form.cleaned_data.get("entries") != AppointmentForm.SHARED
                made = form.save_with(
                    lambda: services.create_appointments(
                        one_each=one_each, rule=form.recurrence_rule(), by=request.user, **form.service_fields()
                    )
                )
                if made is not None:
                    answer_push_choice(made, form.push_choice(), agent=own, by=request.user)
                    messages.success(request, AppointmentForm.created_message(made))
                    _warn_skipped_months(request, made[0])
                    return redirect("calendars:appointment-detail", pk=made[0].pk)
    else:
        # From the next whole hour on the user's clock, as on a request's page (trial 14).
        start = _linked_moment(request, "start") or timezone.localtime(
            times.next_whole_hour(timezone.now(), timezone.get_current_timezone())
        )
        # One real hour: on the night the clocks skip 02:00-03:00, 01:30 is followed by 03:30.
        hour_later = times.end_after(start, timedelta(hours=1))
        end = _linked_moment(request, "end") or hour_later
        chosen = _ids(request, request.GET.getlist("agent"), name="agent")
        form = AppointmentForm(
            asking=own,
            initial={
                "start": start,
                "end": end if end > start else hour_later,
                "agents": chosen or ([own.pk] if own else []),
            },
        )
        _offer_only_choosable(form, request.user)
    return render(request, "calendars/appointment_form.html", {"form": form, "appointment": None})


# A series' page names at most this many of its cancelled and of its moved days ("and N more").
SHOWN_EXCEPTIONS = 10


def _nearest(items: list, moment_of, now: datetime) -> tuple[list, int]:
    """At most SHOWN_EXCEPTIONS of `items` (sorted by `moment_of`): the next ones from `now`,
    then the latest before it; with the number left out."""
    upcoming = [item for item in items if moment_of(item) >= now]
    past = [item for item in items if moment_of(item) < now]
    shown = upcoming[:SHOWN_EXCEPTIONS]
    if len(shown) < SHOWN_EXCEPTIONS:
        shown = past[len(past) - (SHOWN_EXCEPTIONS - len(shown)) :] + shown
    return shown, len(items) - len(shown)


def _series_reader(master: Appointment):
    """The clock a series is told on: the reader's (the current zone), but an all-day series' own,
    where its days begin (days are the same days everywhere, RFC 5545 DATE; review fault 5)."""
    return services.schedule_zone(master.schedule) if master.all_day else timezone.get_current_timezone()


def _series_facts(appointment: Appointment) -> dict:
    """What the page says of the series an appointment belongs to (itself, or its master): the
    rule in words, and its days cancelled and moved on their own, on the reader's clock."""
    master = appointment if appointment.is_recurring_master else appointment.master
    if master is None:
        return {}
    reader = _series_reader(master)
    found = series_exceptions(master)
    now = timezone.now()
    day = DAY_FORMAT
    when = day if master.all_day else WHEN_FORMAT
    cancelled, more_cancelled = _nearest(found.cancelled, lambda moment: moment, now)
    moved, more_moved = _nearest(found.moved, lambda occurrence: occurrence.original_start, now)

    def until(start: datetime, end: datetime) -> str:
        """The end as said after the start: its time alone on the start's day, an all-day entry's
        last day (its end is the midnight after it, RFC 5545 3.6.1), or nothing for one day."""
        first, last = timezone.localtime(start, reader), timezone.localtime(end, reader)
        if master.all_day:
            last -= timedelta(days=1)
            return "" if last.date() <= first.date() else date_format(last, day)
        return date_format(last, TIME_FORMAT if first.date() == last.date() else when)

    return {
        "repeats": rule_in_words(master, reader_zone=reader),
        # The one clock every technician's copy follows (trial fault 2), named even when it is the reader's.
        # None for an all-day series: its days are the same on every clock (trial F9).
        "series_zone": None if master.all_day else zone_label(services.schedule_zone(master.schedule)),
        "series_id": master.pk,
        # "Stop repeating now" is offered while the series has a past to keep and a future to drop.
        "can_stop_repeating": can_stop_repeating(master, now),
        "cancelled_days": [date_format(timezone.localtime(moment, reader), day) for moment in cancelled],
        "more_cancelled": more_cancelled,
        "moved_days": [
            {
                "id": occurrence.id,
                "was": date_format(timezone.localtime(occurrence.original_start, reader), when),
                "start": date_format(timezone.localtime(occurrence.start, reader), when),
                "end": until(occurrence.start, occurrence.end),
            }
            for occurrence in moved
        ],
        "more_moved": more_moved,
        "moved_from": (
            date_format(timezone.localtime(appointment.original_start, reader), when)
            if appointment.is_occurrence and appointment.original_start != appointment.start
            else ""
        ),
    }


def _safe_next(request: HttpRequest) -> str:
    """The `next` page (GET or POST) when it is on this site, else "": a link from elsewhere must
    not send a signed-in user off the site after a delete (open redirect)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else ""


def _appointment(pk: int) -> Appointment:
    return get_object_or_404(
        Appointment.objects.select_related("request", "master__schedule", "schedule").prefetch_related("agents__user"),
        pk=pk,
    )


@login_required
def appointment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Open an appointment; edit it here when allowed. A private imported entry shows only its
    time. A series' master is edited whole, its Repeat and Repeat until too (saved by
    `services.edit_appointment`, as the API's PATCH is); an occurrence only on its own."""
    appointment = _appointment(pk)
    can_edit = permissions.can_edit_appointment(request.user, appointment)
    series = appointment if appointment.is_recurring_master else None
    form = None
    if can_edit:
        if request.method == "POST":
            form = AppointmentForm(request.POST, editing=True, series=series, occurrence=appointment.is_occurrence)
            if form.is_valid():
                data = form.service_fields()
                agents = data.pop("agents")
                if not permissions.can_change_agents(request.user, appointment, agents):
                    form.add_error("agents", "You may not put this appointment on those calendars.")
                else:
                    rule = form.series_rule() if series is not None else None
                    scope = form.edit_scope()
                    if appointment.is_occurrence and scope != EditScope.OCCURRENCE:
                        # This and following, or all: the series' master (a new one for the following) is saved.
                        save = partial(services.edit_occurrences, appointment, scope=scope)
                    else:
                        save = partial(services.edit_appointment, appointment, recurrence=rule)
                    saved = form.save_with(lambda: save(by=request.user, agents=agents, **data))
                    if saved is not None:
                        messages.success(
                            request, SAVED_FOR[scope] if appointment.is_occurrence else "Appointment saved."
                        )
                        dropped = getattr(saved, "dropped_exceptions", None)
                        if dropped:
                            messages.warning(request, dropped_exceptions_text(dropped))
                        if rule is not None:
                            _warn_skipped_months(request, saved)
                        return redirect("calendars:appointment-detail", pk=saved.pk)
        else:
            form = AppointmentForm(
                editing=True,
                series=series,
                occurrence=appointment.is_occurrence,
                initial={
                    "subject": appointment.subject,
                    "start": timezone.localtime(appointment.start),
                    "end": timezone.localtime(appointment.end),
                    **_days_initial(appointment),
                    "agents": list(appointment.agents.all()),
                    "note": appointment.note,
                    "location": appointment.location,
                    "other_attendees": ", ".join(appointment.other_attendees),
                    "private": appointment.private,
                    "reminder_minutes": appointment.reminder_minutes,
                    "no_reminder": appointment.no_reminder,
                },
            )
    elif request.method == "POST":
        raise PermissionDenied
    if form is not None and ownership.keeps_technicians(appointment.source):
        # Said before a save is tried: the entry stays with its technicians (the save refuses others).
        # Django shows help texts unescaped; names are people's input.
        form.fields["agents"].help_text = escape(ownership.refusal(agent.name for agent in appointment.agents.all()))
    return render(
        request,
        "calendars/appointment_detail.html",
        {
            "appointment": appointment,
            "hidden": permissions.is_hidden(appointment),
            "unavailable": permissions.DATA_UNAVAILABLE,
            "can_edit": can_edit,
            "form": form,
            **_series_facts(appointment),
            # Whether it waits for a technician's approval, was declined, or is on their calendar.
            "external_calendars": external_calendar_lines([appointment])[appointment.pk],
            "next": _safe_next(request),
        },
    )


# What the page says once an edit of an occurrence is saved, by what it applied to.
SAVED_FOR = {
    EditScope.OCCURRENCE: "Appointment saved.",
    EditScope.FOLLOWING: "Saved for this and the following occurrences: they are a new series from this one on.",
    EditScope.ALL: "Saved for the whole series.",
}


def _days_initial(appointment: Appointment) -> dict:
    """The edit form's All day, First day and Last day (included: the stored end is the day after
    it, RFC 5545 3.6.1) of an all-day entry; nothing for another."""
    if not appointment.all_day:
        return {}
    first, after = appointment.day_span(timezone.get_current_timezone())
    return {"all_day": True, "first_day": first, "last_day": after - timedelta(days=1)}


@login_required
@require_POST
def appointment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete an appointment, a whole series, or cancel one occurrence; then back to the page the
    user came from (a same-site `next`), else an occurrence's series, else the user's calendar
    (the group calendar for someone without one of their own)."""
    appointment = _appointment(pk)
    if not permissions.can_delete_appointment(request.user, appointment):
        raise PermissionDenied
    # Read before the delete: an occurrence is only marked cancelled, a master takes its series.
    if appointment.master_id:
        day = day_text(timezone.localtime(appointment.start))
        done = f"The occurrence of {day} is cancelled; the rest of the series stays."
    elif appointment.is_recurring_master:
        done = "The series and all its occurrences are deleted."
    else:
        done = "Appointment deleted."
    master_id = appointment.master_id
    services.delete_appointment(appointment, by=request.user)
    messages.success(request, done)
    back = _safe_next(request)
    if back:
        return redirect(back)
    if master_id:
        return redirect("calendars:appointment-detail", pk=master_id)
    return redirect("calendars:personal" if permissions.agent_of(request.user) else "calendars:group")


@login_required
@require_POST
def series_stop_repeating(request: HttpRequest, pk: int) -> HttpResponse:
    """End the series (`pk`: its master) now: its past occurrences stay, its later ones go, and
    its rule ends at the last start before now (`services.stop_repeating`)."""
    master = _appointment(pk)
    if not permissions.can_edit_appointment(request.user, master):
        raise PermissionDenied
    try:
        services.stop_repeating(master, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        words = rule_in_words(master, reader_zone=_series_reader(master))  # as the series' page says it
        messages.success(request, f"The series stopped repeating: {words}.")
    return redirect("calendars:appointment-detail", pk=master.pk)
