"""Appointment <-> RemoteEvent: the calendar format (admins' templates), privacy, series, hashing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from string import Formatter
from zoneinfo import ZoneInfo

from calendars import privacy, times
from calendars import selectors as calendar_selectors
from calendars.formatting import entry_title, render_template, source_words
from calendars.models import Appointment, CalendarSettings
from integrations.providers.base import RemoteEvent, RemoteOccurrence
from integrations.sync.normalise import (  # noqa: F401 (span_of: the engine and tests read it here)
    MAX_OCCURRENCES,
    exception_items,
    moment_key,
    normalise_rrule,
    normalise_text,
    override_items,
    rrule_end,
    rrule_key,
    same_text,
    span_of,
)

# --- plain data, for the snapshot kept on the sync link -------------------------------------


_moment_out = moment_key


def moment_from_data(text: str | None) -> datetime | date | None:
    """A moment as `to_data` keeps it ("T" aware UTC ISO 8601, "F" floating wall clock, "D" a date)
    read back; None stays None."""
    if text is None:
        return None
    if text.startswith(("T", "F")):
        return datetime.fromisoformat(text[1:])
    return date.fromisoformat(text[1:])


def to_data(event: RemoteEvent) -> dict:
    return {
        "start": _moment_out(event.start),
        "end": _moment_out(event.end),
        "subject": event.subject,
        "body": event.body,
        "location": event.location,
        "all_day": event.all_day,
        "private": event.private,
        "busy": event.busy,
        "reminder_minutes": event.reminder_minutes,
        **({"reminder_kept": True} if event.reminder_kept else {}),  # only then, as zone_block
        "time_zone": event.time_zone,
        # only then: what links stored before series kept their own VTIMEZONE read the same
        **({"zone_block": event.zone_block} if event.zone_block else {}),
        **({} if event.zone_named else {"zone_named": False}),  # only then, as zone_block
        "rrules": list(event.rrules),
        "exdates": [_moment_out(d) for d in event.exdates],
        "rdates": [_moment_out(d) for d in event.rdates],
        "overrides": [
            {
                "original_start": _moment_out(o.original_start),
                "start": _moment_out(o.start),
                "end": _moment_out(o.end),
                "subject": o.subject,
                "body": o.body,
                "location": o.location,
                **({"private": True} if o.private else {}),
            }
            for o in event.overrides
        ],
    }


def from_data(data: dict) -> RemoteEvent:
    return RemoteEvent(
        start=moment_from_data(data["start"]),
        end=moment_from_data(data["end"]),
        subject=data.get("subject", ""),
        body=data.get("body", ""),
        location=data.get("location", ""),
        all_day=data.get("all_day", False),
        private=data.get("private", False),
        busy=data.get("busy", True),
        reminder_minutes=data.get("reminder_minutes"),
        reminder_kept=data.get("reminder_kept", False),
        time_zone=data.get("time_zone", "UTC"),
        zone_block=data.get("zone_block", ""),
        zone_named=data.get("zone_named", True),
        rrules=list(data.get("rrules", [])),
        exdates=[moment_from_data(d) for d in data.get("exdates", [])],
        rdates=[moment_from_data(d) for d in data.get("rdates", [])],
        overrides=[
            RemoteOccurrence(
                original_start=moment_from_data(o["original_start"]),
                start=moment_from_data(o["start"]),
                end=moment_from_data(o["end"]),
                subject=o.get("subject"),
                body=o.get("body"),
                location=o.get("location"),
                private=bool(o.get("private", False)),
            )
            for o in data.get("overrides", [])
        ],
    )


# What systems rewrite (text forms, RRULE spellings) is normalised in `sync.normalise`, the one
# place every comparison goes through, providers included.
_text = normalise_text


def content_hash(event: RemoteEvent) -> str:
    """A hash of what a person sees in the entry; equal on both sides when they agree.

    Reminders and time zone labels are left out: other clients rewrite them freely. Text and
    rules are compared as `normalise_text` and `rrule_key` give them.
    """
    overrides = []
    for o in sorted(event.overrides, key=lambda o: _moment_out(o.original_start) or ""):
        entry = [
            _moment_out(o.original_start),
            _moment_out(o.start),
            _moment_out(o.end),
            None if o.subject is None or _text(o.subject) == _text(event.subject) else _text(o.subject),
            None if o.body is None or _text(o.body) == _text(event.body) else _text(o.body),
            None if o.location is None or _text(o.location) == _text(event.location) else _text(o.location),
        ]
        if o.private and not event.private:
            entry.append(True)  # only then: hashes of links synced before occurrences had a flag stay
        if entry[1:] == [_moment_out(o.original_start), rrule_end(o.original_start, event), None, None, None]:
            # An override that is the occurrence as the rule gives it shows nothing different
            # (RFC 5545 RECURRENCE-ID with the same times and texts): systems drop or keep it freely.
            continue
        overrides.append(entry)
    data = [
        _moment_out(event.start),
        _moment_out(event.end),
        bool(event.all_day),
        _text(event.subject),
        _text(event.body),
        _text(event.location),
        bool(event.private),
        bool(event.busy),
        sorted(rrule_key(r, event.time_zone, event.start) for r in event.rrules),
        sorted(_moment_out(d) or "" for d in event.exdates),
        overrides,
    ]
    if event.rdates:  # only then: the hashes of links synced before RDATE was read stay as they were
        data.append(sorted(_moment_out(d) or "" for d in event.rdates))
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


# --- appointment -> remote event ---------------------------------------------------------------


def template_values(appointment: Appointment) -> dict[str, object]:
    request = appointment.request
    return {
        "subject": appointment.subject,
        "note": appointment.note,
        "request_number": request.pk if request else None,
        "summary": request.summary if request else None,
        "customer": getattr(request, "customer", None) if request else None,
        "site": getattr(request, "site", None) if request else None,
        "agents": ", ".join(agent.name for agent in agents_of(appointment)),
        "source": source_words(appointment.source),
        "title": entry_title(appointment.source, appointment.subject),
    }


def agents_of(appointment: Appointment) -> list:
    """The appointment's technicians (in Agent's order): as remembered (`remember_related`,
    `remember_agents`), else read."""
    known = appointment.__dict__.get("known_agents")
    if known is not None:
        return known
    return list(appointment.agents.all())


def remember_related(appointment: Appointment, *, agents: list, modified_occurrences: list | None = None) -> None:
    """Give an appointment just written its technicians and its occurrences edited on their own,
    so `local_event` builds its entry without reading them again."""
    appointment.known_agents = list(agents)
    if modified_occurrences is not None:
        appointment.modified_occurrences = list(modified_occurrences)


def forget_related(appointment: Appointment) -> None:
    """Drop what `remember_related` / `remember_agents` gave, after the appointment changed."""
    appointment.__dict__.pop("known_agents", None)
    appointment.__dict__.pop("modified_occurrences", None)


def remember_agents(appointments: list[Appointment]) -> None:
    """Give many appointments their technicians (each in the technicians' own order), read in one
    query for all: no queryset per appointment, as `prefetch_related` makes.

    The rows are read as values and each technician (with its user) is built once, not once a row
    as `select_related` builds them: most rows name the same few technicians, and building those
    instances was the largest part of an unchanged poll's own time (issue 14). The instances are
    what `select_related("agent__user")` gives: `Model.from_db` on the same converted values."""
    from django.contrib.auth import get_user_model

    from agents.models import Agent

    user_model = get_user_model()
    through = Appointment.agents.through
    ids = [appointment.pk for appointment in appointments]
    order = [f"-agent__{name[1:]}" if name.startswith("-") else f"agent__{name}" for name in Agent._meta.ordering]
    agent_names = [field.attname for field in Agent._meta.concrete_fields]
    user_names = [field.attname for field in user_model._meta.concrete_fields]
    rows = (
        through.objects.filter(appointment_id__in=ids)
        .order_by(*order, "agent_id")
        .values_list(
            "appointment_id",
            "agent_id",
            *(f"agent__{name}" for name in agent_names),
            *(f"agent__user__{name}" for name in user_names),
        )
    )
    user_at = 2 + len(agent_names)
    by_id: dict[int, Agent] = {}  # one instance a technician, as a query of agents gives
    found: dict[int, list] = {}
    for row in rows:
        agent = by_id.get(row[1])
        if agent is None:
            agent = by_id[row[1]] = Agent.from_db(rows.db, agent_names, row[2:user_at])
            user = user_model.from_db(rows.db, user_names, row[user_at:])
            Agent.user.field.set_cached_value(agent, user)
            Agent.user.field.remote_field.set_cached_value(user, agent)  # as select_related sets it
        found.setdefault(row[0], []).append(agent)
    for appointment in appointments:
        appointment.known_agents = found.get(appointment.pk, [])


def _modified_occurrences(appointment: Appointment) -> list[Appointment]:
    """A master's occurrences edited on their own, by original start (prefetched when given)."""
    given = getattr(appointment, "modified_occurrences", None)
    if given is not None:
        return sorted(given, key=lambda o: o.original_start)
    return list(appointment.occurrences.filter(is_modified=True).order_by("original_start"))


def _span(appointment: Appointment) -> tuple[datetime | date, datetime | date]:
    """Instants, or for an all-day entry its days (never moved through a zone)."""
    if appointment.all_day:
        agents = agents_of(appointment)
        zone = agents[0].zone if agents else UTC
        return appointment.day_span(zone)
    return appointment.start, appointment.end


def untemplate(template: str, shown: str, values: dict[str, object], *, field: str) -> str | None:
    """The value of `field` that makes `template` render as `shown`, or None when `shown` does
    not fit the template (or the template does not hold the field).

    `[HD] {subject}` shown as `[HD] X (call first)` gives `X (call first)`; the other fields take
    their `values`. Compared as `normalise_text` gives both. `{title}` is the subject behind its
    prefix (calendars.formatting.entry_title: `values["title"]` ends with `values["subject"]`), so
    `{title}` shown as `Work logged: X` gives the subject `X`.
    """
    try:
        pieces = list(Formatter().parse(template))
    except ValueError:
        return None
    holds = {field, "title"} if field == "subject" else {field}
    if not any(name in holds for _, name, _, _ in pieces):
        return None
    title, subject = str(values.get("title") or ""), str(values.get("subject") or "")
    prefix = title[: len(title) - len(subject)] if title.endswith(subject) else ""
    pattern, seen = [], False
    for literal, name, _spec, _conversion in pieces:
        pattern.append(re.escape(literal))
        if name is None:
            continue
        if name in holds:
            if name == "title":
                pattern.append(re.escape(prefix))
            pattern.append("(?P=own)" if seen else "(?P<own>.*)")
            seen = True
        else:
            pattern.append(re.escape("" if values.get(name) is None else str(values[name])))
    target = normalise_text(shown)
    found = re.fullmatch("".join(pattern), target, re.DOTALL)
    if found is None:
        return None
    own = found.group("own")
    rendered = {**values, field: own, **({"title": prefix + own} if field == "subject" else {})}
    if normalise_text(render_template(template, rendered)) != target:
        return None
    return own


ATTENDEES_LINE = "Other attendees: "


def attendees_line(appointment: Appointment) -> str:
    """The line naming the appointment's other attendees ("" without any).

    S3.5: appointments, not meetings. No connector writes attendees (an external calendar would send
    them invitations); the people the helpdesk records are named in the entry's body instead."""
    attendees = [str(address).strip() for address in appointment.other_attendees or () if str(address).strip()]
    return ATTENDEES_LINE + ", ".join(attendees) if attendees else ""


def with_attendees(body: str, appointment: Appointment) -> str:
    """The rendered body followed, after a blank line, by the other attendees' line (if any)."""
    line = attendees_line(appointment)
    if not line:
        return body
    return f"{body.rstrip()}\n\n{line}" if body.strip() else line


def without_attendees(text: str, appointment: Appointment) -> str:
    """A remote body without the attendees' line `with_attendees` put at its end (the body as the
    template rendered it); unchanged when the line is not there (someone removed or edited it)."""
    line = attendees_line(appointment)
    shown = normalise_text(text)
    if not line or not shown.endswith(line):
        return text
    return shown[: -len(line)].rstrip()


def _texts(appointment: Appointment, settings: CalendarSettings, *, templated: bool) -> tuple[str, str]:
    if not templated:
        return appointment.subject, appointment.note
    values = template_values(appointment)
    body = with_attendees(render_template(settings.body_template, values), appointment)
    return render_template(settings.subject_template, values), body


def reads_remote_before(appointment: Appointment) -> bool:
    """Does `local_event` read `remote_before` for this appointment? Only a private imported entry
    (its text is the remote's) and a series (its private occurrences' text) do, so a caller can
    leave the snapshot unread for the others (most of an unchanged poll's links)."""
    return _private_imported(appointment) or appointment.is_recurring_master


def _private_imported(appointment: Appointment) -> bool:
    return appointment.private and appointment.source == Appointment.Source.EXTERNAL


def local_event(
    appointment: Appointment,
    *,
    settings: CalendarSettings,
    marker: str,
    templated: bool = True,
    remote_before: RemoteEvent | None = None,
    agent=None,
) -> RemoteEvent:
    """The external entry for an appointment (a whole series for a recurring master).

    `templated`: the subject and body come from the admins' templates (entries the helpdesk
    made); an imported entry keeps its own text. A private imported entry has no text here, so
    the remote text (`remote_before`) is kept. `agent`: the technician whose calendar the entry
    is for; an occurrence of the series that is not theirs (they left it, or it was given to
    others on its own) is cancelled on their entry (an EXDATE), as it is for them (None: every
    occurrence counts, as for the series' technicians).
    """
    subject, body = _texts(appointment, settings, templated=templated)
    location = appointment.location
    if _private_imported(appointment) and remote_before is not None:
        subject, body, location = remote_before.subject, remote_before.body, remote_before.location
    start, end = _span(appointment)
    agents = agents_of(appointment)
    # The default reminder is for entries the helpdesk makes; an all-day entry's has its own.
    reminder = appointment.reminder(settings.default_reminder(appointment.all_day) if templated else None)
    event = RemoteEvent(
        start=start,
        end=end,
        subject=subject,
        body=body,
        location=location,
        all_day=appointment.all_day,
        private=appointment.private,
        busy=appointment.busy,
        reminder_minutes=reminder,
        time_zone=str(agents[0].zone) if agents else "UTC",
        marker=marker,
    )
    if appointment.is_recurring_master:
        schedule = appointment.schedule
        event.time_zone = str(schedule.time_zone)
        event.zone_block = schedule.zone_block  # its own VTIMEZONE, when no IANA zone matched it
        zone = calendar_selectors.schedule_zone(schedule)

        def key(original: datetime) -> datetime | date:
            # An all-day series names its occurrences by day (RFC 5545 3.8.4.4: DTSTART's type).
            return original.astimezone(zone).date() if appointment.all_day else original

        event.rrules = [normalise_rrule(_rrule_text(rule)) for rule in schedule.recurrence.rrules]
        if appointment.all_day:
            event.rrules = [times.rule_for_dates(rule, zone) for rule in event.rrules]
        occurrences = _modified_occurrences(appointment)
        # Every cancelled occurrence, made yet or not (the rule keeps those beyond the horizon).
        cancelled = {o.original_start for o in occurrences if o.is_cancelled or not _holds(o, agent)}
        cancelled |= set(calendar_selectors.exdate_instants(schedule.recurrence, zone))
        event.rdates = [key(d) for d in _rdates(schedule, zone) if d != appointment.start]
        if master_start_not_given(appointment):
            # RFC 5545 counts DTSTART as an occurrence; the helpdesk counts only what the rule gives.
            cancelled.add(appointment.start)
        event.exdates = [key(d) for d in sorted(cancelled)]
        kept = {_moment_out(o.original_start): o for o in (remote_before.overrides if remote_before else [])}
        for entry in calendar_selectors.future_exceptions(schedule):
            if entry.get("private"):
                remote = kept.get(_moment_out(key(entry["original_start"])))
                event.overrides.append(
                    RemoteOccurrence(
                        original_start=key(entry["original_start"]),
                        start=entry["start"],
                        end=entry["end"],
                        subject=remote.subject if remote is not None else None,
                        body=remote.body if remote is not None else None,
                        location=remote.location if remote is not None else None,
                        private=not appointment.private,
                    )
                )
                continue
            event.overrides.append(
                RemoteOccurrence(
                    original_start=key(entry["original_start"]),
                    start=entry["start"],
                    end=entry["end"],
                    subject=entry["subject"] if entry["subject"] is not None else event.subject,
                    body=event.body,
                    location=entry["location"] if entry["location"] is not None else appointment.location,
                )
            )
        for occurrence in occurrences:
            if occurrence.is_cancelled or not _holds(occurrence, agent):
                continue
            o_subject, o_body = _texts(occurrence, settings, templated=templated)
            o_location = occurrence.location
            hidden_alone = privacy.is_hidden(occurrence) and not appointment.private
            if privacy.is_hidden(occurrence):
                # A private occurrence has no text here: the remote's own (the snapshot) is kept.
                remote = kept.get(_moment_out(key(occurrence.original_start)))
                o_subject, o_body, o_location = (
                    (remote.subject, remote.body, remote.location) if remote is not None else (None, None, None)
                )
            o_start, o_end = _span(occurrence)
            event.overrides.append(
                RemoteOccurrence(
                    original_start=key(occurrence.original_start),
                    start=o_start,
                    end=o_end,
                    subject=o_subject,
                    body=o_body,
                    location=o_location,
                    private=hidden_alone,
                )
            )
    return event


def _holds(occurrence: Appointment, agent) -> bool:
    """Is `agent` (None: anyone) on this occurrence?"""
    return agent is None or any(other.pk == agent.pk for other in agents_of(occurrence))


FIELDS = ("start", "end", "all_day", "subject", "body", "location", "private", "busy", "rrules", "exdates", "overrides")


def differing_fields(one: RemoteEvent, other: RemoteEvent) -> list[str]:
    """The names of `FIELDS` whose compared content differs between two entries, in that order:
    texts as `same_text`, rules as `rrule_key`, occurrences changed on their own as
    `content_hash` compares them. What a three-way merge reads (each side against its last synced
    state) and what `lost_values` reports."""
    one_data, other_data = to_data(one), to_data(other)
    same = {
        "subject": same_text(one.subject, other.subject),
        "body": same_text(one.body, other.body),
        "location": same_text(one.location, other.location),
        # Both from one DTSTART: BYDAY=MO from a Monday and BYDAY=TU from a Tuesday are other rules.
        "rrules": sorted(rrule_key(r, other.time_zone, other.start) for r in one.rrules)
        == sorted(rrule_key(r, other.time_zone, other.start) for r in other.rrules),
        "exdates": sorted(one_data["exdates"]) == sorted(other_data["exdates"]),
    }
    found = [name for name in FIELDS[:-1] if not same.get(name, one_data[name] == other_data[name])]
    if override_items(one) != override_items(other):
        found.append("overrides")
    return found


def changed_fields(synced: RemoteEvent, now: RemoteEvent) -> set[str]:
    """What one side changed since the last sync (`differing_fields` of its entry as last synced
    and as it is now), a series' exceptions read on the series as synced: a side that moved the
    whole series moved its own EXDATEs and overrides with it (`rekeyed_onto`, RFC 5545 3.8.5.1 and
    3.8.4.4 name instances of the rule), which is no change of its exceptions (review finding 3:
    a series with a cancelled day moved on one side, another day cancelled on the other). An
    occurrence edited in its text only that moved with the series (as the helpdesk and Google
    move it) is read back at the rule's times as synced (review 7 F7), so it is no change either."""
    changed = set(differing_fields(synced, now))
    if now.is_recurring and changed & {"start", "end"} and changed & {"exdates", "overrides"}:
        exdates, overrides = rekeyed_onto(now, synced)
        as_synced = dataclasses.replace(
            now,
            start=synced.start,
            end=synced.end,
            time_zone=synced.time_zone,
            zone_block=synced.zone_block,
            exdates=exdates,
            overrides=overrides,
        )
        if sorted(to_data(as_synced)["exdates"]) == sorted(to_data(synced)["exdates"]):
            changed.discard("exdates")
        if override_items(as_synced) == override_items(synced):
            changed.discard("overrides")
    return changed


def with_exception_items(
    before: RemoteEvent, after: RemoteEvent, local: RemoteEvent, remote: RemoteEvent, *, taken: Iterable[str]
) -> tuple[RemoteEvent, RemoteEvent]:
    """`before` and `after` (an entry as last synced and as a merge's pull writes it) with a series'
    exceptions merged item by item (`planner.merge_items`): the items `taken` (original starts, as
    `exception_items` keys them) are `remote`'s in `after` (and `before`'s in `before`, so the pull
    applies exactly that change); every other item is the helpdesk's (`local`), named the same in
    both (nothing to apply, yet named, so the pull never takes it for undone). Returns copies."""
    taken = set(taken)
    sides = {}
    for name, event in (("before", before), ("local", local), ("remote", remote)):
        exdates = {_moment_out(d): d for d in event.exdates}
        overrides = {_moment_out(o.original_start): o for o in event.overrides}
        sides[name] = (exdates, overrides, exception_items(event))
    keys = set().union(*(set(exdates) | set(overrides) for exdates, overrides, _ in sides.values()))
    old_exdates, old_overrides, new_exdates, new_overrides = [], [], [], []
    for key in sorted(keys):
        if key in taken:
            old, new = "before", "remote"
        elif sides["local"][2].get(key) == sides["before"][2].get(key):
            old = new = "before"  # as synced: the same words the entry had
        else:
            old = new = "local"
        for side, exdates, overrides in ((old, old_exdates, old_overrides), (new, new_exdates, new_overrides)):
            if key in sides[side][0]:
                exdates.append(sides[side][0][key])
            if key in sides[side][1]:
                overrides.append(sides[side][1][key])
    return (
        dataclasses.replace(before, exdates=old_exdates, overrides=old_overrides),
        dataclasses.replace(after, exdates=new_exdates, overrides=new_overrides),
    )


# What goes with a field when it is taken from one side: a start's time zone, a rule's RDATEs.
_TAKEN_WITH = {"start": ("time_zone", "zone_block", "zone_named"), "rrules": ("rdates",)}


def with_fields(base: RemoteEvent, source: RemoteEvent, names: Iterable[str]) -> RemoteEvent:
    """A copy of `base` with the fields `names` (of `FIELDS`) taken from `source`: one side of a
    three-way merge applied onto the entry as last synced, so only those fields read as changed."""
    taken = {}
    for name in names:
        for attribute in (name, *_TAKEN_WITH.get(name, ())):
            value = getattr(source, attribute)
            taken[attribute] = list(value) if isinstance(value, list) else value  # never a shared list
    return dataclasses.replace(base, **taken)


def series_zone(event: RemoteEvent) -> tzinfo:
    """The zone whose wall clock a series' rule repeats on: its own VTIMEZONE's when no IANA zone
    matches it (`RemoteEvent.zone_block`, `ical_zones.zone_from_block`), else its IANA zone (UTC for
    a name none is). ValueError for a block icalendar cannot read."""
    if event.zone_block:
        from calendars import ical_zones  # icalendar: only for such a series (a command's start-up)

        return ical_zones.zone_from_block(event.zone_block)
    return times.zone_or(event.time_zone, ZoneInfo("UTC"))


def rekeyed(
    exdates: list,
    overrides: list[RemoteOccurrence],
    *,
    before: datetime | date,
    after: datetime | date,
    zone: str | tzinfo,
    zone_before: str | tzinfo | None = None,
    lengths: tuple[timedelta, timedelta] | None = None,
) -> tuple[list, list[RemoteOccurrence]]:
    """A series' exceptions (its EXDATEs; its overrides, keyed by original start) renamed for the
    series moved from `before` to `after` (its first start, aware or a date): each names the same
    instance of the moved rule (RFC 5545 3.8.5.1, 3.8.4.4 name instances by their start), shifted
    on the series' wall clock (`times.wall_shift`, the one shift the helpdesk's own series moves
    use) so 15:00 stays the 15:00 of each day across a DST change; a date by whole days.

    `zone`: the series' clock after the move (an IANA name or a zone: `series_zone`); `zone_before`:
    its clock before, when
    the move also changed it (review 7 F2b: 09:00 Amsterdam moved to 09:00 New York keeps each
    exception at 09:00 on the New York clock, whatever the two zones' DST dates).

    `lengths`: the series' length (end - start) before and after the move. Given, an override whose
    times were the rule's for its original start (edited in its text only) takes the moved rule's
    times and the new length, as `calendars.services._move_exceptions` moves the helpdesk's own and
    Google moves it for an "all events" change (review 7 F7); an override moved or resized on its
    own keeps its times (it stays where it was put). Without `lengths` every override keeps its
    times. Unchanged when nothing moved or the forms differ (all-day and timed)."""
    if isinstance(before, datetime) != isinstance(after, datetime):
        return list(exdates), list(overrides)
    if before == after and (zone_before or zone) == zone and (lengths is None or lengths[0] == lengths[1]):
        return list(exdates), list(overrides)
    if isinstance(before, datetime):
        tz = times.zone_or(zone, ZoneInfo("UTC")) if isinstance(zone, str) else zone
        if not zone_before:
            tz_before = tz
        else:
            tz_before = times.zone_or(zone_before, tz) if isinstance(zone_before, str) else zone_before
        shift = times.wall_shift(before, after, tz, tz_before)

        def moved(value):
            return times.wall_shifted(value, shift, tz, tz_before) if isinstance(value, datetime) else value
    else:
        days = after - before

        def moved(value):
            return value + days if not isinstance(value, datetime) else value

    def follows(o: RemoteOccurrence) -> bool:
        """Were the override's times the rule's for its original start (text-only edit)?"""
        if lengths is None or type(o.start) is not type(o.original_start):
            return False
        try:
            return o.start == o.original_start and times.exact_length(o.start, o.end) == lengths[0]
        except TypeError:  # naive and aware mixed: not the rule's occurrence
            return False

    def moved_override(o: RemoteOccurrence) -> RemoteOccurrence:
        key = moved(o.original_start)
        if follows(o) and type(key) is type(o.original_start):
            end = times.end_after(key, lengths[1]) if isinstance(key, datetime) else key + lengths[1]
            return dataclasses.replace(o, original_start=key, start=key, end=end)
        return dataclasses.replace(o, original_start=key)

    return [moved(value) for value in exdates], [moved_override(o) for o in overrides]


def rekeyed_onto(source: RemoteEvent, target: RemoteEvent, *, exdates=None, overrides=None) -> tuple[list, list]:
    """`source`'s exceptions (or the `exdates` / `overrides` given, named on `source`'s series)
    renamed onto `target`'s series (`rekeyed`: from `source`'s start, clock and length to
    `target`'s), so each names the same instance of the rule as `target` has it."""
    return rekeyed(
        source.exdates if exdates is None else exdates,
        source.overrides if overrides is None else overrides,
        before=source.start,
        after=target.start,
        zone=series_zone(target),
        zone_before=series_zone(source),
        lengths=_lengths(source, target),
    )


def _lengths(source: RemoteEvent, target: RemoteEvent) -> tuple[timedelta, timedelta] | None:
    try:
        return times.exact_length(source.start, source.end), times.exact_length(target.start, target.end)
    except TypeError:
        return None


def rekey_lands(source: RemoteEvent, target: RemoteEvent) -> bool:
    """Can `source`'s exceptions be re-keyed onto `target`'s series (`rekeyed_onto`) without one
    being lost? RFC 5545 3.8.5.1 and 3.8.4.4: an EXDATE or RECURRENCE-ID matches an instance the
    rule computes; a uniform wall-clock shift keeps that only while every instance moves by the
    same shift, not when the rule itself changed ("first Monday" to "first Tuesday": June's EXDATE
    shifted a day names no instance while the new rule has another June instance, review 7 F2).

    True when each exception that named an instance of `source`'s series names one of `target`'s
    once re-keyed; also when those that do not are EXDATEs that only named instances `target` no
    longer has at all (every instance of `target` up to them is one of `source`'s, shifted: a series
    ended earlier, whose dropped occurrences' cancellations are moot). An occurrence moved or edited
    on its own is never moot (review 8 F3). An exception that named nothing before is not
    asked about. False when either rule cannot be expanded. Instances by dateutil
    (`times.rule_starts`)."""
    exdates, overrides = rekeyed_onto(source, target)
    old = [*source.exdates, *(o.original_start for o in source.overrides)]
    new = [*exdates, *(o.original_start for o in overrides)]
    if not old:
        return True
    named = _names_instances(source, old)
    asked = [moment for moment, was in zip(new, named or [True] * len(old), strict=True) if was]
    lands = _names_instances(target, asked)
    if lands is None:
        return False
    if all(lands):
        return True
    # An occurrence moved or edited on its own that names no instance of the changed rule is a
    # change that cannot stand there (RFC 5545 3.8.4.4): never moot, whatever became of its day
    # (review 8 F3: a visit moved from a weekday the other side dropped from the rule).
    was_named = named or [True] * len(old)
    kinds = ["exdate"] * len(source.exdates) + ["override"] * len(source.overrides)
    kinds = [kind for kind, was in zip(kinds, was_named, strict=True) if was]
    if any(kind == "override" and not landed for kind, landed in zip(kinds, lands, strict=True)):
        return False
    # Some EXDATE names no instance: moot only if the target's instances are the source's, shifted.
    # Walked whole up to the last key, as far as `_WALK_LIMIT` starts: 20 years of a daily series.
    theirs = _instances(target, asked, limit=_WALK_LIMIT)
    ours = _instances(
        source,
        [moment for moment, was in zip(old, named or [True] * len(old), strict=True) if was],
        limit=_WALK_LIMIT,
    )
    if theirs is None or ours is None:
        return False
    shifted, _ = rekeyed_onto(source, target, exdates=ours, overrides=[])
    return {moment_key(moment) for moment in theirs} <= {moment_key(moment) for moment in shifted}


def names_instances(series: RemoteEvent, keys: list) -> list[bool] | None:
    """For each of `keys` (EXDATE values or original starts), does it name an instance of the
    series' own rule (RFC 5545 3.8.5.1, 3.8.4.4)? None when the rule cannot be expanded that far;
    all True for a single entry (nothing to judge)."""
    if not series.is_recurring:
        return [True] * len(keys)
    return _names_instances(series, keys)


def orphaned_overrides(event: RemoteEvent) -> list[RemoteOccurrence]:
    """The occurrences of the series `event` changed on their own (RECURRENCE-ID) whose original
    start names no instance of its own rule any more (RFC 5545 3.8.4.4: a RECURRENCE-ID names an
    instance of the recurrence set): left behind by a client that changed the rule (an earlier
    UNTIL, a smaller COUNT, another weekday) and kept the moved occurrence's component. Empty for
    a single entry, or when the rule cannot be expanded (`_instances`)."""
    if not event.is_recurring or not event.overrides:
        return []
    named = _names_instances(event, [o.original_start for o in event.overrides])
    if named is None:
        return []
    return [override for override, landed in zip(event.overrides, named, strict=True) if not landed]


def _instances(series: RemoteEvent, keys: list, *, limit: int = MAX_OCCURRENCES) -> list | None:
    """The instances of `series` up to the last of `keys` (EXDATE values or original starts; a
    date on a timed series counting its whole day): its RRULEs expanded on its own clock by
    `times.rule_starts`, its DTSTART and its RDATEs. None when the rules cannot be expanded that
    far within `limit` instances."""
    start = series.start
    timed = isinstance(start, datetime)
    if timed and start.tzinfo is not None:
        start = start.astimezone(series_zone(series))

    def bound(key):
        if isinstance(key, datetime) or not timed:
            return key
        day_after = datetime.combine(key + timedelta(days=1), datetime.min.time())
        return day_after.replace(tzinfo=start.tzinfo) if start.tzinfo else day_after

    bounds = [bound(key) for key in keys if timed or not isinstance(key, datetime)]
    if not bounds:
        return [start, *series.rdates]
    try:
        until = max(bounds, key=lambda moment: moment_key(moment) or "")
        starts = times.rule_starts(start, series.rrules, until=until, limit=limit + 1)
    except (ValueError, TypeError, OverflowError):
        return None
    if len(starts) > limit:
        return None
    return [*starts, start, *series.rdates]


def _names_instances(series: RemoteEvent, keys: list) -> list[bool] | None:
    """For each of `keys` (EXDATE values or original starts), does it name an instance of `series`
    (its instances near each key: `_instances_near`)? A date on a timed series names that day's
    instance (as `inbound` reads a date EXDATE); a time on an all-day series names none. None when
    a rule cannot be walked near a key within `_WALK_LIMIT` starts."""
    if not keys:
        return []
    instances = _instances_near(series, keys)
    if instances is None:
        return None
    timed = isinstance(series.start, datetime)
    zone = instances[-1 - len(series.rdates)].tzinfo if timed else None  # the series' start, on its clock
    at = {moment_key(moment) for moment in instances}
    days = {
        (moment.astimezone(zone) if moment.tzinfo and zone else moment).date()
        for moment in instances
        if isinstance(moment, datetime)
    }

    def named(key) -> bool:
        if isinstance(key, datetime) != timed:
            return timed and key in days
        return moment_key(key) in at

    return [named(key) for key in keys]


# Starts one walk near a key may take: a window of two periods of the rule (`_anchored`), or a
# COUNT rule walked from its first start (its count runs from there). Every-second rules over two
# days stay under it; dateutil walks about 80,000 starts a second.
_WALK_LIMIT = 20_000
_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
_DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _instances_near(series: RemoteEvent, keys: list) -> list | None:
    """Instances of `series` (RRULE starts on its own clock, `times.rule_starts`) taking in all of
    those at each of `keys` (the key's instant, or its whole day for a date key on a timed series),
    then its DTSTART and its RDATEs (the layout `_instances` gives); it may hold others. Each RRULE
    is walked from a start restated shortly before a key (`_anchored`; keys sharing one walk
    together), so a key 20 years into a daily series, or a month into an every-minute one, costs
    about two periods of the rule, not every start before it. None when a walk needs more than
    `_WALK_LIMIT` starts or dateutil cannot walk the rule (ValueError, TypeError, OverflowError)."""
    start = series.start
    timed = isinstance(start, datetime)
    if timed and start.tzinfo is not None:
        start = start.astimezone(series_zone(series))
    first = start if timed else datetime(start.year, start.month, start.day)
    walks: dict[tuple, datetime | date] = {}  # (walk start, rule text): the last moment it must reach
    for key in keys:
        if isinstance(key, datetime) != timed:
            if not timed:
                continue  # a time never names an instance of an all-day series
            # A date on a timed series: its whole day, from its midnight to the next one.
            wall = datetime.combine(key, datetime.min.time())
            key = datetime.combine(key + timedelta(days=1), datetime.min.time()).replace(tzinfo=start.tzinfo)
        elif timed:
            wall = key.astimezone(start.tzinfo) if key.tzinfo and start.tzinfo else key
        else:
            wall = datetime(key.year, key.month, key.day)
        for rule in series.rrules:
            text = rule[6:] if rule.upper().startswith("RRULE:") else rule
            try:
                walk = _anchored(first, text, wall.replace(tzinfo=None)) or (first, text)
            except (ValueError, TypeError, OverflowError):
                return None
            reach = walks.get(walk)
            if reach is None or moment_key(key) > moment_key(reach):
                walks[walk] = key
    found: list = []
    for (walk_from, text), reach in walks.items():
        try:
            starts = times.rule_starts(
                walk_from if timed else walk_from.date(), [text], until=reach, limit=_WALK_LIMIT + 1
            )
        except (ValueError, TypeError, OverflowError):
            return None
        if len(starts) > _WALK_LIMIT:
            return None
        found.extend(starts)
    return [*found, start, *series.rdates]


def _anchored(start: datetime, rule: str, near: datetime) -> tuple[datetime, str] | None:
    """`rule` counted from `start` restated to run from the start of the rule's period one INTERVAL
    before the one holding `near` (a naive wall time on `start`'s clock): the same starts from there
    on, as dateutil (`times.rule_starts`) gives them. RFC 5545 3.3.10: FREQ and INTERVAL count
    periods from DTSTART, and what the BYxxx parts leave out is taken from DTSTART (its month and
    day, weekday, hour, minute, second: written out here as dateutil fills them in), so moving the
    start by whole INTERVALs of periods changes nothing else. None (walk from `start`) for a COUNT
    rule (its count runs from the first start), a FREQ dateutil does not know, or `near` within two
    INTERVALs of `start`."""
    parts = {}
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            parts[name.strip().upper()] = value.strip()
    freq = parts.get("FREQ", "").upper()
    if "COUNT" in parts or freq not in _FREQS:
        return None
    interval = max(1, int(parts.get("INTERVAL") or 1))
    level = _FREQS.index(freq)
    if not {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYEASTER"} & parts.keys():
        if freq == "YEARLY":
            parts.setdefault("BYMONTH", str(start.month))
            parts["BYMONTHDAY"] = str(start.day)
        elif freq == "MONTHLY":
            parts["BYMONTHDAY"] = str(start.day)
        elif freq == "WEEKLY":
            parts["BYDAY"] = _DAY_CODES[start.weekday()]
    for name, finer, value in (("BYHOUR", 4, start.hour), ("BYMINUTE", 5, start.minute), ("BYSECOND", 6, start.second)):
        if name not in parts and level < finer:
            parts[name] = str(value)
    wall = start.replace(tzinfo=None, microsecond=0)
    week_start = _DAY_CODES.index(parts.get("WKST", "MO").upper())

    def week_of(moment: datetime) -> datetime:
        day = moment.date() - timedelta(days=(moment.weekday() - week_start) % 7)
        return datetime.combine(day, datetime.min.time())

    units = (timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1))
    if freq == "YEARLY":
        periods = near.year - wall.year
    elif freq == "MONTHLY":
        periods = (near.year - wall.year) * 12 + near.month - wall.month
    elif freq == "WEEKLY":
        periods = (week_of(near) - week_of(wall)).days // 7
    elif freq == "DAILY":
        periods = (near.date() - wall.date()).days
    else:
        unit = units[level - 4]
        periods = (_floor(near, freq) - _floor(wall, freq)) // unit
    whole = periods // interval
    if whole < 2:
        return None
    steps = (whole - 1) * interval
    if freq == "YEARLY":
        anchor = datetime(wall.year + steps, 1, 1)
    elif freq == "MONTHLY":
        months = wall.month - 1 + steps
        anchor = datetime(wall.year + months // 12, months % 12 + 1, 1)
    elif freq == "WEEKLY":
        anchor = week_of(wall) + timedelta(weeks=steps)
    elif freq == "DAILY":
        anchor = datetime.combine(wall.date() + timedelta(days=steps), datetime.min.time())
    else:
        anchor = _floor(wall, freq) + steps * units[level - 4]
    return anchor.replace(tzinfo=start.tzinfo), ";".join(f"{name}={value}" for name, value in parts.items())


def _floor(moment: datetime, freq: str) -> datetime:
    """`moment` cut to the start of its hour, minute or second (the period of an HOURLY, MINUTELY
    or SECONDLY rule)."""
    if freq == "HOURLY":
        return moment.replace(minute=0, second=0, microsecond=0)
    if freq == "MINUTELY":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(microsecond=0)


def lost_values(
    loser: RemoteEvent, winner: RemoteEvent, *, only: Iterable[str] | None = None, items: Iterable[str] | None = None
) -> dict:
    """The fields of `loser` that `winner` overwrote, with the loser's values, as plain data (the
    sync log's "overwritten"): only fields whose compared content differs, and of those only the
    ones named in `only` when given (a merge: the fields both sides changed). `items`: a series'
    exceptions merged item by item: only the left-out dates and occurrences at these original
    starts (`exception_items` keys) were overwritten."""
    lost_data = to_data(loser)
    names = differing_fields(loser, winner)
    if only is not None:
        names = [name for name in names if name in set(only)]
    lost = {name: lost_data[name] for name in names if name != "overrides"}
    if "overrides" in names:
        lost["overrides"] = _changed_occurrences(loser, winner)
    if items is not None:
        # Exceptions merged item by item: only the items both sides changed were overwritten.
        items = set(items)
        for name, key in (("exdates", None), ("overrides", "original_start")):
            if name in lost:
                kept = [value for value in lost[name] if (value[key] if key else value) in items]
                if kept:
                    lost[name] = kept
                else:
                    del lost[name]
    return lost


_OCCURRENCE_FIELDS = ("start", "end", "subject", "body", "location")


def _changed_occurrences(loser: RemoteEvent, winner: RemoteEvent) -> list[dict]:
    """The occurrences changed on their own that differ between the two sides, by original start,
    each with what `loser` had there: {"original_start", and those of start, end, subject, body,
    location (`to_data`'s forms) that differ from `winner`'s occurrence}, or {"original_start",
    "as_series": True} where `loser` had the occurrence as the series gives it. Both sides are
    compared against the loser's series, as `content_hash` compares an override (RFC 5545
    RECURRENCE-ID: an override with the rule's times and the series' texts changes nothing)."""
    base = RemoteEvent(
        start=loser.start, end=loser.end, subject=loser.subject, body=loser.body, location=loser.location
    )

    base_key = content_hash(base)  # the series alone: the same for every override of both sides

    def changed(event: RemoteEvent) -> dict[str, tuple[dict, list]]:
        found = {}
        for occurrence in event.overrides:
            key = content_hash(dataclasses.replace(base, overrides=[occurrence]))
            if key != base_key:
                found[_moment_out(occurrence.original_start)] = (_occurrence_data(occurrence), key)
        return found

    lost, won = changed(loser), changed(winner)
    result = []
    for original in sorted(set(lost) | set(won)):
        had, had_key = lost.get(original, (None, None))
        has, has_key = won.get(original, (None, None))
        if had_key == has_key:
            continue
        if had is None:
            result.append({"original_start": original, "as_series": True})
            continue
        other = has or {
            "start": original,
            "end": rrule_end(moment_from_data(original), loser),
            "subject": None,
            "body": None,
            "location": None,
        }
        entry = {"original_start": original}
        for name in _OCCURRENCE_FIELDS:
            if name in ("start", "end"):
                # Moved or resized: the times it had, both.
                if (had["start"], had["end"]) != (other["start"], other["end"]):
                    entry[name] = had[name]
                continue
            # A text the same as the series' is no text of the occurrence's own (content_hash).
            mine, theirs = (
                None if value is None or same_text(value, getattr(base, name)) else value
                for value in (had[name], other[name])
            )
            if mine != theirs and not (mine is not None and theirs is not None and same_text(mine, theirs)):
                entry[name] = mine if mine is not None else getattr(base, name)
        if had.get("private"):
            entry["private"] = True
        if len(entry) == 1 + ("private" in entry):
            # Differs only in what the hash reads but the fields do not show (e.g. a text the
            # same as the series'): say the occurrence, with its times.
            entry.update(start=had["start"], end=had["end"])
        result.append(entry)
    return result


def _occurrence_data(occurrence: RemoteOccurrence) -> dict:
    """One override as `to_data` writes it."""
    return {
        "original_start": _moment_out(occurrence.original_start),
        "start": _moment_out(occurrence.start),
        "end": _moment_out(occurrence.end),
        "subject": occurrence.subject,
        "body": occurrence.body,
        "location": occurrence.location,
        **({"private": True} if occurrence.private else {}),
    }


def _rdates(schedule, zone) -> list[datetime]:
    return sorted(times.on_wall_clock(d, zone) if d.tzinfo is None else d for d in schedule.recurrence.rdates)


def master_start_not_given(master: Appointment) -> bool:
    """Is the master's own start outside what its schedule gives (so not an occurrence here)?
    Judged on DTSTART as it is written and read (on the series' wall clock, RFC 5545 3.3.5: the
    first of a repeated hour), so the EXDATE this calls for never cancels the rule's real first
    instance (review 7 F4)."""
    starts = calendar_selectors.occurrence_starts(master.schedule, master, master.start + timedelta(seconds=1))
    starts = [start.astimezone(UTC) for start in starts]  # PEP 495: compared on one zone
    return times.as_read_on_wall_clock(master.start, calendar_selectors.schedule_zone(master.schedule)) not in starts


def _rrule_text(rule) -> str:
    """One django-recurrence Rule as RRULE text without the prefix."""
    import recurrence

    text = recurrence.serialize(recurrence.Recurrence(rrules=[rule]))
    for line in text.splitlines():
        if line.upper().startswith("RRULE:"):
            return line[6:]
    return text
