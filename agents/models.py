import hashlib
import secrets
import zoneinfo
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from timezone_field import TimeZoneField

from helpdesk.parsing import colour_validator


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


def validate_weekdays(value: list) -> None:
    if not isinstance(value, list) or any(day not in Weekday.values for day in value):
        raise ValidationError("Working days must be a list of weekday numbers, 0 (Monday) to 6 (Sunday).")


# Names zoneinfo finds that are no tz-database zone another calendar would know: "localtime" is
# this server's own /etc/localtime, "Factory" the tz database's "zone not set" placeholder.
NOT_ZONES = frozenset({"localtime", "Factory"})


def time_zone_names() -> list[str]:
    """The IANA zone names a technician may have, sorted: zoneinfo.available_timezones() (the
    tz database as this machine holds it, the tzdata package included) less NOT_ZONES."""
    return sorted(zoneinfo.available_timezones() - NOT_ZONES)


def unknown_zone_message(name: str) -> str:
    """What is wrong with a zone name given (form, API, admin) and what to give instead: the tz
    database's spelling when only the case or a space differs ("europe/amsterdam")."""
    name = str(name).strip()[:60]
    spelled = {zone.lower(): zone for zone in time_zone_names()}.get(name.lower().replace(" ", "_"))
    hint = f" Did you mean {spelled}?" if spelled else ""
    return (
        f"“{name}” is not a time zone of the tz database.{hint} Give an IANA time zone name, "
        "for example Europe/London or America/New_York."
    )


def validate_time_zone(value) -> None:
    """Raise ValidationError unless `value` (a name or a ZoneInfo) is one of time_zone_names(): a
    zone every external calendar the technician's entries are written to knows by that name."""
    name = str(getattr(value, "key", value) or "")
    if name not in zoneinfo.available_timezones() or name in NOT_ZONES:
        raise ValidationError(unknown_zone_message(name), code="unknown_time_zone")


# Working hours may cross midnight (calendars.availability.crosses_midnight), but not be empty.
SAME_START_AND_END = (
    "Working hours cannot end when they start. For a night shift give an end before the start: "
    "22:00 to 06:00 runs to 06:00 the next day."
)


class AgentSyncPolicy(models.TextChoices):
    """A technician's own sync policy (SPEC S3.3: Never / Always / Ask); it counts when the global
    policy is "Use technician setting". No "use the global setting" here: with the global
    "Use technician setting" the two would point at each other."""

    NEVER = "never", "Never"
    ALWAYS = "always", "Always"
    ASK = "ask", "Ask"


def hash_feed_token(token: str) -> str:
    """What the database keeps of a feed token: its SHA-256 (hex). The token is 256 random bits,
    so a plain hash is enough (no salt or stretching needed), and a lookup stays one indexed query."""
    return hashlib.sha256(token.encode()).hexdigest()


# Prefix of the stored token of a technician who never made a link (a hash is hex, so it never
# matches a lookup); /me/ then offers "Make my link" rather than "renew".
NEVER_MADE_MARK = "-"


def new_feed_token() -> str:
    """The stored form of a token nobody has seen: a new technician makes their link on /me/."""
    return NEVER_MADE_MARK + secrets.token_urlsafe(32)


class Agent(models.Model):
    """A technician: one per user, with a calendar in the helpdesk."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    email = models.EmailField(
        blank=True,
        help_text="The mailbox used to reach the technician's external calendar; the user's e-mail if empty.",
    )
    colour = models.CharField(max_length=7, default="#1e88e5", validators=[colour_validator])
    time_zone = TimeZoneField(default="Europe/Amsterdam", help_text="IANA time zone, for example Europe/London.")
    working_days = models.JSONField(
        null=True,
        blank=True,
        validators=[validate_weekdays],
        help_text="Weekday numbers (0 = Monday). Empty: the global default.",
    )
    working_hours_start = models.TimeField(null=True, blank=True, help_text="Empty: the global default.")
    working_hours_end = models.TimeField(null=True, blank=True, help_text="Empty: the global default.")
    holiday_country = models.CharField(
        "public holidays of country",
        max_length=3,
        blank=True,
        help_text="ISO 3166 code (for example NL, DE, US) whose public holidays are days off; empty: none.",
    )
    holiday_region = models.CharField(
        "public holidays of region",
        max_length=10,
        blank=True,
        help_text="Subdivision code within the country (for example BY for Bavaria); empty: national holidays only.",
    )
    calendar_shown = models.BooleanField(default=True, help_text="Show the calendar to this technician.")
    sync_policy = models.CharField(max_length=10, choices=AgentSyncPolicy.choices, default=AgentSyncPolicy.ALWAYS)
    import_external = models.BooleanField(
        "create appointments from calendar integrations",
        default=False,
        help_text="Import entries made in the external calendar as appointments.",
    )
    feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token, editable=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["user__first_name", "user__last_name", "user__username"]
        permissions = [("coordinate", "Can plan every technician's calendar")]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.user.get_full_name() or self.user.username

    @property
    def mailbox(self) -> str:
        return self.email or self.user.email

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        tz = self.time_zone
        return tz if isinstance(tz, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo(str(tz))

    def local(self, moment: datetime) -> datetime:
        """The moment on this technician's wall clock."""
        return moment.astimezone(self.zone)

    def clean(self) -> None:
        if self.time_zone:
            try:
                validate_time_zone(self.time_zone)
            except ValidationError as error:
                raise ValidationError({"time_zone": error.messages}) from error
        start, end = self.working_hours_start, self.working_hours_end
        if (start is None) != (end is None):
            raise ValidationError("Give both the start and the end of the working hours, or neither.")
        if start is not None and start == end:
            raise ValidationError({"working_hours_end": SAME_START_AND_END})
        from calendars.availability import check_holiday_region

        problem = check_holiday_region(self.holiday_country, self.holiday_region)
        if problem:
            raise ValidationError(problem)


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(Agent, related_name="teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CoordinatorFeed(models.Model):
    """The private team-feed token of a coordinator who has no technician profile (an Agent keeps
    its own token, which its team links carry). Stored like Agent.feed_token: a hash, a
    never-made mark, or a revoked mark (agents.services)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coordinator_feed")
    feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token, editable=False)

    def __str__(self) -> str:
        return f"Team feeds of {self.user}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """Pages show a user without a technician profile the site's zone; so does the feed."""
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class TeamMembership(Team.members.through):
    """One technician in one team: the table of Team.members, named for the admin, whose inline
    on a technician's page titles each row with this (not "Team_members object (2)")."""

    class Meta:
        proxy = True
        verbose_name = "team membership"

    def __str__(self) -> str:
        return f"{self.agent} in {self.team}"
