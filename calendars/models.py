from datetime import UTC, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from recurrence.fields import RecurrenceField
from timezone_field import TimeZoneField

from agents.models import SAME_START_AND_END, Agent, validate_weekdays
from helpdesk.limits import check_supported
from helpdesk.moments import days_text
from helpdesk.parsing import colour_validator
from tickets.models import Action, Request

MAX_OTHER_ATTENDEES = 100


class SyncPolicy(models.TextChoices):
    NEVER = "never", "Never"
    ALWAYS = "always", "Always"
    ASK = "ask", "Ask"
    TECHNICIAN = "technician", "Use technician setting"


class ConflictRule(models.TextChoices):
    HELPDESK_WINS = "helpdesk", "Helpdesk wins"
    EXTERNAL_WINS = "external", "External calendar wins"


class EditScope(models.TextChoices):
    """What an edit of one occurrence of a series changes (as Outlook and Google ask)."""

    OCCURRENCE = "occurrence", "This occurrence"
    FOLLOWING = "following", "This and following occurrences"
    ALL = "all", "All occurrences of the series"


# The default reminder of an all-day entry the helpdesk makes, in minutes before its day begins
# (midnight of its DATE start, RFC 5545 3.8.6.3). Outlook's all-day default: 18 hours, 06:00 the day
# before. Chosen over Google's "1 day before at 09:00" (900) because every connector carries it as
# plain minutes before the start (Graph reminderMinutesBeforeStart, EWS ReminderMinutesBeforeStart,
# Google reminders.overrides, a CalDAV TRIGGER): the same moment on every side, and early enough to
# plan the day, where the timed default (15) would ring at 23:45 the evening before.
ALL_DAY_REMINDER_MINUTES = 1080


class CalendarSettings(models.Model):
    """The global calendar defaults: one row, edited in admin."""

    calendar_enabled = models.BooleanField("calendar feature on", default=True)
    default_estimate = models.DurationField(default=timedelta(hours=1))
    show_add_to_calendar = models.BooleanField('show "Add to calendar" on actions', default=True)
    sync_policy = models.CharField(
        "sync policy", max_length=12, choices=SyncPolicy.choices, default=SyncPolicy.TECHNICIAN
    )
    conflict_rule = models.CharField(
        max_length=10,
        choices=ConflictRule.choices,
        default=ConflictRule.HELPDESK_WINS,
        help_text="Who wins when both sides changed the same appointment since the last sync.",
    )
    import_days_past = models.PositiveIntegerField(
        default=30,
        help_text="How many days back entries are imported from the technicians' calendars, and how far "
        "back a repeating series' occurrences are kept. A series may have at most 5,000 occurrences in a "
        "year plus these days, so a larger value refuses series that repeat very often, on create and "
        "on import.",
    )
    import_days_future = models.PositiveIntegerField(default=365)
    sync_log_days = models.PositiveIntegerField(
        "keep the sync log for (days)",
        default=90,
        help_text="Older sync log entries are removed once a day; 0 keeps them all.",
    )
    feed_days_past = models.PositiveIntegerField("subscription feed: days in the past", default=60)
    feed_days_future = models.PositiveIntegerField("subscription feed: days in the future", default=365)
    reminder_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=15, help_text="Reminder on external entries; empty: none."
    )
    all_day_reminder_minutes = models.PositiveIntegerField(
        "reminder on all-day entries",
        null=True,
        blank=True,
        default=ALL_DAY_REMINDER_MINUTES,
        help_text="Minutes before the day begins (midnight); 1080: 06:00 the day before, as Outlook. Empty: none.",
    )
    email_technicians = models.BooleanField(
        "e-mail technicians about their appointments",
        default=False,
        help_text="When an appointment is made, moved or cancelled for them.",
    )
    warn_overlaps = models.BooleanField(
        "warn about double bookings",
        default=True,
        help_text="Ask before saving an appointment that overlaps another one or imported busy time.",
    )
    planned_today_colour = models.CharField(
        "colour of today's planned requests", max_length=7, default="#e53935", validators=[colour_validator]
    )
    default_colour = models.CharField(max_length=7, default="#1e88e5", validators=[colour_validator])
    working_days = models.JSONField(default=list, validators=[validate_weekdays], blank=True)
    working_hours_start = models.TimeField(default=time(8, 0))
    working_hours_end = models.TimeField(default=time(17, 0))
    subject_template = models.CharField(
        "external subject template",
        max_length=300,
        default="{title}",
        help_text=(
            "Fields: {subject} {note} {request_number} {summary} {customer} {site} {agents} {source} {title}. "
            '{title} is the subject as the calendars show it ("Work logged: " before an action\'s, so the work '
            "done reads apart from the plan); {source} names where the entry comes from (Planned, Work logged, "
            "Appointment, External)."
        ),
    )
    body_template = models.TextField(
        "external body template",
        default="{note}",
        help_text="Fields: {subject} {note} {request_number} {summary} {customer} {site} {agents} {source} {title}.",
    )

    class Meta:
        verbose_name = "calendar settings"
        verbose_name_plural = "calendar settings"

    def __str__(self) -> str:
        return "Calendar settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    def default_reminder(self, all_day: bool) -> int | None:
        """Minutes before the start of the reminder the helpdesk puts on an entry it makes whose
        own reminder is not set (None: none): `all_day_reminder_minutes` for an all-day entry (see
        ALL_DAY_REMINDER_MINUTES for the reason), else `reminder_minutes`. An entry's own reminder,
        and one set on the external side, is never replaced by this default."""
        return self.all_day_reminder_minutes if all_day else self.reminder_minutes

    @classmethod
    def load(cls) -> "CalendarSettings":
        obj, _ = cls.objects.get_or_create(pk=1, defaults={"working_days": [0, 1, 2, 3, 4]})
        return obj

    def clean(self) -> None:
        if self.working_hours_end == self.working_hours_start:
            raise ValidationError({"working_hours_end": SAME_START_AND_END})
        if self.default_estimate is not None and self.default_estimate <= timedelta(0):
            raise ValidationError({"default_estimate": "The default estimate must be longer than zero."})
        from calendars.formatting import check_template

        for name in ("subject_template", "body_template"):
            problem = check_template(getattr(self, name))
            if problem:
                raise ValidationError({name: problem})


def _instant(value):
    """An aware time as UTC (its instant); dates and naive times as they are."""
    return value.astimezone(UTC) if getattr(value, "tzinfo", None) is not None else value


class AppointmentQuerySet(models.QuerySet):
    def visible(self) -> "AppointmentQuerySet":
        """What a calendar shows: no recurring masters (their occurrences stand for them), no
        cancelled occurrences."""
        return self.filter(schedule__isnull=True, is_cancelled=False)

    def overlapping(self, start, end) -> "AppointmentQuerySet":
        return self.filter(start__lt=end, end__gt=start)


class Appointment(models.Model):
    """A block of time on one or more technicians' calendars."""

    class Source(models.TextChoices):
        PLANNED = "planned", "Planned request"
        ACTION = "action", "Action"
        MANUAL = "manual", "Manual"
        EXTERNAL = "external", "External (imported)"

    subject = models.CharField(max_length=255)
    note = models.TextField(blank=True)
    location = models.CharField(max_length=255, blank=True)
    start = models.DateTimeField(db_index=True)
    # No index of its own: the (end, start) index below serves every query on `end`, and one index
    # fewer is less work for each appointment written (issue 14's import writes tens of thousands).
    end = models.DateTimeField()
    all_day = models.BooleanField(default=False)
    # All-day entries are days, not times: these are what is shown, fed and pushed, in every
    # zone; start/end then hold the technician's midnights, for overlap and availability queries.
    start_date = models.DateField(null=True, blank=True, help_text="All-day entries: the first day.")
    end_date = models.DateField(
        null=True, blank=True, help_text="All-day entries: the day after the last (exclusive, as in RFC 5545)."
    )
    agents = models.ManyToManyField(Agent, related_name="appointments")
    other_attendees = models.JSONField(
        default=list, blank=True, help_text="E-mail addresses of other attendees; recorded, never invited."
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL, db_index=True)
    request = models.ForeignKey(Request, null=True, blank=True, on_delete=models.CASCADE, related_name="appointments")
    action = models.OneToOneField(Action, null=True, blank=True, on_delete=models.CASCADE, related_name="appointment")
    part = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Work booked in parts: this later part's number (2, 3, ...) on its request; the first part is "
        "the request's planned appointment. Booking the request again replaces these parts.",
    )
    private = models.BooleanField(default=False)
    busy = models.BooleanField("show as busy", default=True)
    reminder_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: the global default.")
    # "No reminder", set in the helpdesk or by removing the alarm on a phone: kept apart from an empty
    # `reminder_minutes` (not set: the global default), so a removed alarm stays removed (`reminder`).
    no_reminder = models.BooleanField(
        default=False, help_text="No reminder at all, not even the global default; then minutes are empty."
    )
    # Occurrences of a recurring master: keyed by the start the rule gave them.
    # Found by the unique (master, original_start) index, which leads with it: no index of its own.
    master = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="occurrences", db_index=False
    )
    original_start = models.DateTimeField(null=True, blank=True)
    is_modified = models.BooleanField(
        default=False, help_text="An occurrence edited on its own; a change of the rule leaves it alone."
    )
    is_cancelled = models.BooleanField(default=False)
    sequence = models.PositiveIntegerField(default=0, help_text="Revision number, raised on every change.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["end", "start"])]
        constraints = [
            models.UniqueConstraint(
                fields=["request"],
                condition=models.Q(source="planned"),
                name="one_planned_appointment_per_request",
            ),
            models.UniqueConstraint(fields=["master", "original_start"], name="one_occurrence_per_original_start"),
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="appointment_ends_after_start"),
            models.CheckConstraint(
                condition=models.Q(part__isnull=True) | models.Q(part__gte=2, request__isnull=False),
                name="a_later_part_is_on_its_request",
            ),
        ]

    def __str__(self) -> str:
        from calendars.privacy import shown_subject

        if self.all_day:
            # Days are the same on every clock: "Wed 16 Dec 2026 (all day)", never a midnight.
            return f"{shown_subject(self)} ({days_text(*self.day_span(timezone.get_current_timezone()))})"
        # on the reader's clock (the current zone), as every page and admin field shows times
        return f"{shown_subject(self)} ({timezone.localtime(self.start):%Y-%m-%d %H:%M})"

    @property
    def is_hidden(self) -> bool:
        """Only its time may be shown: the privacy rule (calendars.privacy.is_hidden)."""
        from calendars.privacy import is_hidden

        return is_hidden(self)

    @property
    def is_recurring_master(self) -> bool:
        return hasattr(self, "schedule")

    @property
    def is_occurrence(self) -> bool:
        return self.master_id is not None

    def reminder(self, default: int | None) -> int | None:
        """Minutes before the start of this entry's reminder, None for none: none when it was
        removed (`no_reminder`), its own minutes when set, else `default` (the global default the
        caller applies, `CalendarSettings.default_reminder`, or None where no default applies)."""
        if self.no_reminder:
            return None
        return self.reminder_minutes if self.reminder_minutes is not None else default

    @property
    def last_day(self):
        """An all-day entry's last day (a date: its end_date is the day after, RFC 5545 3.6.1);
        None for any other entry."""
        return self.end_date - timedelta(days=1) if self.all_day and self.end_date else None

    def day_span(self, zone) -> tuple:
        """An all-day entry's (first day, day after the last): its stored dates, or for rows
        from before they were kept, the days of its start and end on `zone`'s calendar."""
        if self.start_date and self.end_date:
            return self.start_date, self.end_date
        from calendars.times import date_span

        return date_span(self.start, self.end, zone)

    def clean(self) -> None:
        check_supported(start=self.start, end=self.end)
        # As instants, as the database's appointment_ends_after_start compares them: two times of one
        # zone compare by wall clock in Python, and 02:30 in the spring-forward gap is 03:30's instant.
        if self.start and self.end and _instant(self.end) <= _instant(self.start):
            raise ValidationError({"end": "The end must be after the start."})
        if not isinstance(self.other_attendees, list) or len(self.other_attendees) > MAX_OTHER_ATTENDEES:
            raise ValidationError({"other_attendees": f"Give at most {MAX_OTHER_ATTENDEES} attendee addresses."})


class Schedule(models.Model):
    """The recurrence rule of a recurring master appointment.

    The rule repeats on the wall clock of `time_zone`, so a 09:00 weekly appointment stays at
    09:00 across a change to or from daylight saving time. Occurrences exist as appointments
    up to `materialised_until`, which a periodic task moves forward.
    """

    master = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="schedule")
    recurrence = RecurrenceField(include_dtstart=False)
    time_zone = TimeZoneField(default="Europe/Amsterdam")
    # A series whose VTIMEZONE (Outlook's "Customized Time Zone") no IANA zone matches: that block's
    # text, checked when it was read (integrations.providers.caldav), at most
    # calendars.ical_zones.MAX_ZONE_BLOCK characters. The rule then repeats on the block's wall clock
    # (RFC 5545 3.3.10, `calendars.selectors.schedule_zone`); `time_zone` is UTC, what systems that
    # only take IANA zones get. Empty for every other series.
    zone_block = models.TextField(blank=True, default="")
    materialised_until = models.DateTimeField(null=True, blank=True)
    # Occurrences moved or edited (in an external calendar) before the helpdesk has made them:
    # [{"original_start": UTC ISO, "start"/"end": UTC ISO or a date, "subject"/"location": text or
    # null}], applied when they are made; cancelled ones are EXDATEs in `recurrence`.
    future_exceptions = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"Schedule of {self.master}"
