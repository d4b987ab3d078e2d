"""E-mail to technicians about their appointments (S3.11).

When CalendarSettings.email_technicians is on, a technician an appointment is made for, moved
for or cancelled for (including being taken off it) gets an e-mail with the details and an
.ics attachment. The attachment says METHOD:PUBLISH: it adds or updates an entry, it is never
an invitation (REQUEST) that a mail client would ask to answer.

The signal receiver only decides and queues, after the commit; the Celery worker sends (and
retries while the mail server is away). The notice carries everything the e-mail needs (a
snapshot), because a deleted appointment is gone by the time the worker runs.

An e-mail is a side effect: nothing about it may fail the write that caused it, nor keep the
other after-commit work (the sync push) from running. Every step here that can fail is caught
and logged with the appointment it was for.
"""

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import TextChoices

from agents.models import Agent
from calendars import privacy
from calendars.models import Appointment, CalendarSettings
from calendars.signals import Change
from helpdesk.moments import days_text, span_text, when_text

logger = logging.getLogger(__name__)

ATTACHMENT_NAME = "appointment.ics"
ATTACHMENT_TYPE = "text/calendar; method=PUBLISH; charset=utf-8"


class NoticeKind(TextChoices):
    NEW = "new", "New appointment"
    MOVED = "moved", "Appointment moved"
    CHANGED = "changed", "Recurring appointment changed"
    CANCELLED = "cancelled", "Appointment cancelled"


OPENING = {
    NoticeKind.NEW: "A new appointment was made for you.",
    NoticeKind.MOVED: "One of your appointments was moved.",
    NoticeKind.CHANGED: "One of your recurring appointments was changed.",
    NoticeKind.CANCELLED: "One of your appointments was cancelled, or you were taken off it.",
}


@dataclass(frozen=True)
class Notice:
    """One e-mail, ready to send: plain data, so it travels through the broker as JSON."""

    to: str
    subject: str
    body: str
    ics: str

    @classmethod
    def from_dict(cls, data: dict) -> "Notice":
        return cls(**data)


def notice_kinds(change: str, *, before: frozenset[int], now: frozenset[int], series: bool) -> dict[int, NoticeKind]:
    """Who hears about a change, and what: new technicians get "new", technicians taken off get
    "cancelled", those who stay hear about a move (or about any change of a whole series)."""
    if change == Change.CREATED:
        return dict.fromkeys(now, NoticeKind.NEW)
    if change in (Change.CANCELLED, Change.DELETED):
        return dict.fromkeys(before | now, NoticeKind.CANCELLED)
    kinds = dict.fromkeys(now - before, NoticeKind.NEW) | dict.fromkeys(before - now, NoticeKind.CANCELLED)
    if change == Change.MOVED or series:
        kinds |= dict.fromkeys(before & now, NoticeKind.CHANGED if series else NoticeKind.MOVED)
    return kinds


# --- building an e-mail -----------------------------------------------------------------------


def _when(appointment: Appointment, agent: Agent) -> str:
    """The entry's time as the pages write it (helpdesk.moments), on the recipient technician's
    clock, named so a reader elsewhere knows whose: "Wed 16 Dec 2026 10:00-11:00 (Europe/Amsterdam)"
    (an en dash); an all-day entry by its days, the same on every clock."""
    zone = agent.zone
    if appointment.all_day:
        return days_text(*appointment.day_span(zone))
    return f"{span_text(appointment.start, appointment.end, zone)} ({zone.key})"


def _was(appointment: Appointment, agent: Agent) -> str:
    """Where a moved occurrence was, in the same words as `_when`."""
    zone = agent.zone
    if appointment.all_day:
        day = appointment.original_start.astimezone(zone).date()
        return days_text(day, day + timedelta(days=1))
    return f"{when_text(appointment.original_start, zone)} ({zone.key})"


def _repeats(appointment: Appointment) -> str:
    if not appointment.is_recurring_master:
        return ""
    texts = [rule.to_text() for rule in appointment.schedule.recurrence.rrules]
    return "; ".join(texts)


def _body(appointment: Appointment, agent: Agent, kind: NoticeKind) -> str:
    text = privacy.shown(appointment)
    lines = [f"Hello {agent.name},", "", OPENING[kind], "", f"Subject: {text['subject']}"]
    lines.append(f"When: {_when(appointment, agent)}")
    if appointment.is_occurrence and appointment.original_start != appointment.start:
        lines.append(f"Was: {_was(appointment, agent)}")
    repeats = _repeats(appointment)
    if repeats:
        lines.append(f"Repeats: {repeats}")
    if text["location"]:
        lines.append(f"Where: {text['location']}")
    if text["request_id"]:
        lines.append(f"Request: #{text['request_id']}")
    if text["note"]:
        lines += ["", "Note:", text["note"]]
    lines += [
        "",
        "The attached calendar file adds or updates this entry in your calendar. It is not an invitation:",
        "there is nothing to accept or decline.",
    ]
    return "\n".join(lines)


def build_notices(
    appointment: Appointment, kinds: dict[int, NoticeKind], calendar_settings: CalendarSettings
) -> list[Notice]:
    """The e-mails for one change, each in its technician's time zone."""
    # Read here, not with the module: this module is loaded at start-up (the receiver is connected
    # in CalendarsConfig.ready) by every process, and the .ics writer and what it imports are only
    # needed once an e-mail is built (issue 14: a sync's start-up).
    from calendars.ical import EventStyle, appointment_calendar

    agents = Agent.objects.filter(pk__in=kinds, is_active=True).select_related("user")
    exceptions = list(appointment.occurrences.filter(is_modified=True)) if appointment.is_recurring_master else []
    notices = []
    for agent in agents:
        if not agent.mailbox:
            continue
        kind = kinds[agent.pk]
        status = "CANCELLED" if kind == NoticeKind.CANCELLED else "CONFIRMED"
        style = EventStyle.for_settings(calendar_settings, zone=agent.zone, status=status)
        ics = appointment_calendar(appointment, style, exceptions=exceptions).to_ical().decode()
        subject = f"{kind.label}: {privacy.shown_subject(appointment)}"[:200]
        notices.append(Notice(to=agent.mailbox, subject=subject, body=_body(appointment, agent, kind), ics=ics))
    return notices


def send_notices(notices: list[Notice]) -> int:
    """Send the e-mails over one connection; returns how many went out."""
    messages = []
    for notice in notices:
        message = EmailMessage(notice.subject, notice.body, settings.DEFAULT_FROM_EMAIL, [notice.to])
        message.attach(ATTACHMENT_NAME, notice.ics, ATTACHMENT_TYPE)
        messages.append(message)
    if not messages:
        return 0
    with get_connection() as connection:
        return connection.send_messages(messages) or 0


# --- the signal receiver ----------------------------------------------------------------------


def _queue(notices: list[Notice]) -> None:
    """One task per e-mail; a broker that refuses one does not keep the others from going."""
    from calendars.tasks import send_appointment_notice

    for notice in notices:
        try:
            send_appointment_notice.delay(asdict(notice))
        except Exception:
            logger.exception("Could not queue the e-mail to %s (%s)", notice.to, notice.subject)


def _after_commit(job: Callable[[], None], appointment_id: int) -> None:
    """Run job once the transaction is in; a failure is logged, never raised.

    A named function (not a functools.partial): Django's robust on_commit handler logs the
    callback's __qualname__, which a partial lacks, and the failed logging would then stop
    the hooks after it (the sync push among them).
    """

    def send_appointment_emails() -> None:
        try:
            job()
        except Exception:
            logger.exception("Could not prepare the e-mails about appointment %s", appointment_id)

    transaction.on_commit(send_appointment_emails, robust=True)


def _queue_after_commit(appointment_id: int, change: str, before: frozenset[int]) -> None:
    """Built once the transaction is in, so a new series is seen with its schedule."""
    appointment = (
        Appointment.objects.select_related("schedule", "master__schedule", "request").filter(pk=appointment_id).first()
    )
    if appointment is None:  # deleted later in the same transaction: that change sent its own notice
        return
    now = frozenset(appointment.agents.values_list("pk", flat=True))
    kinds = notice_kinds(change, before=before, now=now, series=appointment.is_recurring_master)
    _queue(build_notices(appointment, kinds, CalendarSettings.load()))


def on_appointment_changed(
    sender, appointment: Appointment, change: str, agent_ids_before: frozenset[int], by=None, **kwargs
) -> None:
    """Receiver of `calendars.signals.appointment_changed`: queue the e-mails on commit."""
    if appointment.source == Appointment.Source.EXTERNAL:
        return  # the technician made it in their own calendar
    if change == Change.DELETED and appointment.is_occurrence:
        return  # only when its whole series goes (or loses it by a new rule): the series' notice says so
    calendar_settings = CalendarSettings.load()
    if not calendar_settings.email_technicians:
        return
    if change == Change.DELETED:
        # The row is gone after the commit: take the snapshot now.
        kinds = notice_kinds(change, before=frozenset(agent_ids_before), now=frozenset(), series=False)
        try:
            notices = build_notices(appointment, kinds, calendar_settings)
        except Exception:
            logger.exception("Could not prepare the e-mails about deleted appointment %s", appointment.pk)
            return
        _after_commit(lambda: _queue(notices), appointment.pk)
        return
    pk, before = appointment.pk, frozenset(agent_ids_before)
    _after_commit(lambda: _queue_after_commit(pk, str(change), before), pk)
