from datetime import datetime, timedelta, tzinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from agents.models import Agent
from helpdesk.moments import history_text


class Request(models.Model):
    """A helpdesk ticket. Its number is its primary key, shown as #123."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        WAITING = "waiting", "Waiting"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    summary = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    customer = models.CharField(max_length=200, blank=True)
    site = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    assigned_agents = models.ManyToManyField(Agent, related_name="requests", blank=True)
    planned_start = models.DateTimeField(null=True, blank=True, db_index=True)
    estimate = models.DurationField(
        null=True, blank=True, help_text="How long the planned work takes; empty: the default estimate."
    )
    planned_length = models.DurationField(
        null=True,
        blank=True,
        help_text=(
            "Work booked in parts over several days: the length of the first part, which the planned "
            "appointment covers (the other parts are appointments on the request); empty: the estimate."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.number} {self.summary}"

    @property
    def number(self) -> int | None:
        return self.pk

    def clean(self) -> None:
        from helpdesk.limits import check_supported

        check_supported(planned_start=self.planned_start)
        if self.estimate is not None and self.estimate <= timedelta(0):
            raise ValidationError({"estimate": "The estimate must be longer than zero."})
        if self.planned_length is not None and self.planned_length <= timedelta(0):
            raise ValidationError({"planned_length": "The planned part must be longer than zero."})


# Work is logged once it has started; this much ahead of the server's clock is allowed for a
# device whose clock runs a little fast.
WORK_LOG_CLOCK_TOLERANCE = timedelta(minutes=5)


class Action(models.Model):
    """A work-log entry on a request."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="actions")
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="actions")
    note = models.TextField(blank=True)
    done_at = models.DateTimeField(help_text="When the work started.")
    time_taken = models.DurationField(default=timedelta(0))
    add_to_calendar = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-done_at"]

    def __str__(self) -> str:
        return f"{self.agent} on #{self.request_id} at {timezone.localtime(self.done_at):%Y-%m-%d %H:%M}"

    @staticmethod
    def starts_ahead(start: datetime) -> bool:
        """The rule of logged work (trial 18): work is logged once it has started, so a start
        (aware) later than now, give or take WORK_LOG_CLOCK_TOLERANCE, cannot be logged; it holds
        for a logged action and for its calendar entry moved by a person."""
        return start > timezone.now() + WORK_LOG_CLOCK_TOLERANCE

    def clean(self) -> None:
        from helpdesk.limits import check_supported

        check_supported(done_at=self.done_at)
        if self.done_at is not None and self.starts_ahead(self.done_at):
            raise ValidationError(
                {"done_at": "Work cannot be logged before it starts: give a start that is not in the future."}
            )
        if self.time_taken is not None and self.time_taken < timedelta(0):
            raise ValidationError({"time_taken": "The time taken cannot be negative."})
        if self.add_to_calendar and self.time_taken is not None and self.time_taken <= timedelta(0):
            raise ValidationError(
                {"time_taken": "To add this action to the calendar, give the time taken (longer than zero)."}
            )


class HistoryLine(models.Model):
    """A line of a request's history that no person typed: a change that reached the request
    from outside the helpdesk's pages, such as its planned appointment deleted in a technician's
    external calendar ("Unplanned from Carol's calendar on 30 Nov 2026 22:50 CET"). Shown on the
    request page and in the API (`history`) so the coordinator sees it."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="history")
    agent = models.ForeignKey(
        Agent,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whose calendar it came from.",
    )
    text = models.CharField(max_length=500, help_text="As written, on the writer's clock (the admin, old lines).")
    parts = models.JSONField(
        default=list,
        blank=True,
        help_text='The sentence as text parts and instants ({"at": ISO 8601 UTC}), written on each reader\'s clock.',
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.request_id}: {self.text}"

    def text_on(self, zone: tzinfo) -> str:
        """The line with its times on `zone`'s wall clock, each with that clock's abbreviation
        (helpdesk.moments.history_text); a line written before its instants were kept (no
        `parts`) reads as it was written."""
        return history_text(self.parts, zone) if self.parts else self.text

    @property
    def shown(self) -> str:
        """The line on the reader's clock: the zone the page or API request activated."""
        return self.text_on(timezone.get_current_timezone())
