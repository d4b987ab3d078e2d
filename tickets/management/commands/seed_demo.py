"""Demo data for a first look: run it as often as you like, it adds nothing twice."""

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from agents.models import Agent, Team
from calendars import services as calendar_services
from calendars.models import Appointment
from tickets import services as ticket_services
from tickets.models import Request

PASSWORD = "demo1234"
SERIES_SUBJECT = "Weekly team stand-up"

TECHNICIANS = [
    # username, first, last, colour, time zone, team
    ("alice", "Alice", "Jansen", "#1e88e5", "Europe/Amsterdam", "Field service"),
    ("bob", "Bob", "de Vries", "#43a047", "Europe/Amsterdam", "Field service"),
    ("carol", "Carol", "Smith", "#8e24aa", "Europe/London", "Field service"),
    ("dave", "Dave", "Bakker", "#fb8c00", "Europe/Amsterdam", "Field service"),
    ("erin", "Erin", "Jones", "#00897b", "Europe/London", "Service desk"),
    ("frank", "Frank", "Miller", "#6d4c41", "America/New_York", "Service desk"),
    ("grace", "Grace", "Visser", "#d81b60", "Europe/Amsterdam", "Service desk"),
    ("henk", "Henk", "Mulder", "#3949ab", "Europe/Amsterdam", "Service desk"),
]
# Public holidays (python-holidays codes) of each demo zone's country and region.
HOLIDAYS_BY_ZONE = {
    "Europe/Amsterdam": ("NL", ""),
    "Europe/London": ("GB", "ENG"),
    "America/New_York": ("US", "NY"),
}
CUSTOMERS = [
    ("Acme Logistics", "Rotterdam warehouse"),
    ("Brightside Dental", "Utrecht practice"),
    ("City of Delft", "Town hall"),
    ("Northwind Traders", "Head office"),
    ("Oakwood School", "Main building"),
    ("Harbour Hotel", "Reception"),
]
SUMMARIES = [
    "Replace failing switch",
    "Printer jams on tray 2",
    "Set up laptop for new starter",
    "Wi-Fi drops in meeting room",
    "Backup job failed overnight",
    "Install firewall update",
    "Move desk phones to new floor",
    "Migrate mailbox",
    "UPS battery warning",
    "Projector shows no signal",
]


class Command(BaseCommand):
    help = "Create demo users, technicians, teams, requests, actions and appointments (idempotent)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            admin, coordinator, agents = self._people()
            if Appointment.objects.filter(subject=SERIES_SUBJECT, schedule__isnull=False).exists():
                self.stdout.write("Demo data is already there; logins refreshed.")
            else:
                self._work(admin, coordinator, agents)
                self.stdout.write(self.style.SUCCESS("Demo data created."))
        self.stdout.write(f"Logins (password for all: {PASSWORD}):")
        self.stdout.write("  admin        (admin, coordinator)")
        self.stdout.write("  coordinator  (plans the team's time)")
        self.stdout.write("  " + ", ".join(username for username, *_ in TECHNICIANS) + "  (technicians)")

    def _user(self, username: str, first: str, last: str, **flags) -> User:
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
        user.email = f"{username}@example.com"
        for name, value in flags.items():
            setattr(user, name, value)
        user.set_password(PASSWORD)
        user.save()
        return user

    def _people(self) -> tuple[User, User, list[Agent]]:
        coordinators, _ = Group.objects.get_or_create(name="Coordinators")
        coordinators.permissions.add(Permission.objects.get(codename="coordinate", content_type__app_label="agents"))
        admin = self._user("admin", "Ada", "Admin", is_staff=True, is_superuser=True)
        coordinator = self._user("coordinator", "Cees", "Coordinator", is_staff=False)
        coordinator.groups.add(coordinators)
        admin.groups.add(coordinators)
        agents = []
        for username, first, last, colour, zone, team_name in TECHNICIANS:
            user = self._user(username, first, last)
            country, region = HOLIDAYS_BY_ZONE[zone]
            agent, _ = Agent.objects.get_or_create(
                user=user,
                defaults={"colour": colour, "time_zone": zone, "holiday_country": country, "holiday_region": region},
            )
            team, _ = Team.objects.get_or_create(name=team_name)
            team.members.add(agent)
            agents.append(agent)
        return admin, coordinator, agents

    def _work(self, admin: User, coordinator: User, agents: list[Agent]) -> None:
        rng = random.Random(2026)  # the same demo every time
        today = timezone.localdate()
        monday = today - timedelta(days=today.weekday())
        for number in range(60):
            agent = agents[number % len(agents)]
            customer, site = CUSTOMERS[number % len(CUSTOMERS)]
            day = monday + timedelta(days=rng.randrange(-7, 14))
            while day.weekday() >= 5:
                day += timedelta(days=1)
            # Ends by 16:30 at the latest (two hours from 14:30): inside the default working hours.
            start = datetime.combine(day, time(rng.choice([8, 9, 10, 11, 13, 14]), rng.choice([0, 30])))
            request = ticket_services.create_request(
                summary=SUMMARIES[number % len(SUMMARIES)],
                customer=customer,
                site=site,
                status=rng.choice([Request.Status.NEW, Request.Status.OPEN, Request.Status.IN_PROGRESS]),
                assigned_agents=[agent],
                planned_start=start.replace(tzinfo=agent.zone),
                estimate=timedelta(minutes=rng.choice([30, 60, 90, 120])),
                by=coordinator,
            )
            done_at = _working_day(request.planned_start, -2, agent.zone)
            if number % 3 == 0 and done_at <= timezone.now():  # work is logged once done, never ahead
                ticket_services.log_action(
                    request,
                    agent=agent,
                    done_at=done_at,
                    time_taken=timedelta(minutes=45),
                    note="Remote diagnosis with the customer.",
                    add_to_calendar=True,
                    by=agent.user,
                )
            if number % 10 == 0:
                # On site together: a colleague on the same clock, at 10:00 the next working day.
                others = [o for o in agents[number + 1 :] + agents if o != agent and o.zone == agent.zone]
                on_site = _working_day(request.planned_start, 1, agent.zone).replace(hour=10, minute=0)
                calendar_services.create_appointments(
                    agents=[agent, *others[:1]],
                    one_each=number % 20 == 0,
                    subject=f"On site together: {customer}",
                    start=on_site,
                    end=on_site + timedelta(hours=2),
                    request=request,
                    note="Bring the spare switch.",
                    by=coordinator,
                )
        for offset, agent in enumerate(agents[:4]):
            calendar_services.create_appointment(
                subject="Training: new monitoring tool",
                start=datetime.combine(monday + timedelta(days=2), time(14 + offset % 2)).replace(tzinfo=agent.zone),
                end=datetime.combine(monday + timedelta(days=2), time(16)).replace(tzinfo=agent.zone),
                agents=[agent],
                by=coordinator,
            )
        # 15:00 in Amsterdam is 14:00 in London and 09:00 (10:00 in the weeks the US and the EU
        # change clocks apart) in New York: working hours on every demo technician's clock.
        standup_zone = agents[0].zone
        series = calendar_services.create_recurring_appointment(
            rule="RRULE:FREQ=WEEKLY;BYDAY=MO",
            subject=SERIES_SUBJECT,
            start=datetime.combine(monday, time(15)).replace(tzinfo=standup_zone),
            end=datetime.combine(monday, time(15, 30)).replace(tzinfo=standup_zone),
            agents=agents,
            by=coordinator,
        )
        occurrences = list(series.occurrences.order_by("original_start")[1:3])
        moved = occurrences[0]
        calendar_services.update_appointment(
            moved, start=moved.start + timedelta(days=1), end=moved.end + timedelta(days=1), by=coordinator
        )
        calendar_services.cancel_occurrence(occurrences[1], by=coordinator)


def _working_day(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """`moment` (aware) moved by `days` working days (Monday to Friday) on the wall clock of
    `zone`: the same local time, returned in `zone`."""
    moment = moment.astimezone(zone)
    step = 1 if days > 0 else -1
    for _ in range(abs(days)):
        moment = moment + timedelta(days=step)
        while moment.weekday() >= 5:
            moment = moment + timedelta(days=step)
    return moment
