"""A calendar the admin names is found whatever the case of the name (trial: "Work" given, the
CalDAV calendar is "work", and the link was refused), on every connector that takes names: CalDAV
(DAV:displayname, RFC 4918 15.2), Google (CalendarList `summary`), Microsoft 365 (Graph calendar
`name`) and Exchange (folder:DisplayName, which Exchange compares ignoring case, MS-OXWSFLDR). Two
calendars matching are refused naming both; none matching is refused naming those there are. One
parametrised test per rule runs over the four connectors; what only one connector has stays below
(CalDAV: the last segment of the address; Google: a calendar id; Exchange: folders in
tests/integrations/exchange/test_exchange_calendar_folder.py). The calendars are made with the
caldav library and the peers' own seeding, not through the provider under test."""

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import caldav
import pytest

from agents.models import Agent
from integrations import services
from integrations.models import AgentCalendar, Connection
from integrations.providers.base import ConnectionProblem
from tests.integrations.conftest import USERS

# The peers' fixtures live in each connector's folder; the parametrised tests here use them all.
from tests.integrations.exchange.conftest import ALICE, ews, ews_connection  # noqa: F401
from tests.integrations.google.conftest import (  # noqa: F401
    google,
    google_connection,
    rsa_key,
    service_account_info,
    service_account_json,
)
from tests.integrations.graph.conftest import graph, graph_connection  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh(make_agent):
    """A technician whose calendar home on the session's Radicale holds nothing yet."""
    return make_agent(f"t{uuid.uuid4().hex[:10]}")


def make_calendars(radicale, agent, *calendars: tuple[str, str]) -> dict[str, str]:
    """(display name, address segment) pairs made in the technician's home with the caldav library;
    segment -> address."""
    client = caldav.DAVClient(url=radicale.url, username="helpdesk", password=USERS["helpdesk"])
    home = f"{radicale.url.rstrip('/')}/{agent.mailbox.split('@')[0]}/"
    client.request(home, "MKCOL")  # Radicale makes a home when its user first logs in
    made = {}
    for display, segment in calendars:
        made[segment] = str(caldav.CalendarSet(client=client, url=home).make_calendar(name=display, cal_id=segment).url)
    return made


@dataclass
class Calendars:
    """One connector's technician and calendars, for the naming rules: `add` makes a calendar on the
    peer (display name -> (its id, how a message names it)); `there` is how a message names the
    calendars the peer starts with; `where` is how it names whose calendars were searched."""

    connection: Connection
    agent: Agent
    add: Callable[[str], tuple[str, str]]
    there: list[str]
    where: str


# Each peer: its fixture, the connection's fixture, how it makes a calendar, how a message names the
# calendars it starts with, and whose calendars a message says were searched.
PEERS = {
    "google": ("google", "google_connection", "add_calendar", [repr(ALICE)], f"{ALICE} on Google"),
    "graph": ("graph", "graph_connection", "add_calendar", ["'Calendar'"], f"{ALICE} on Microsoft 365"),
    "exchange": ("ews", "ews_connection", "add_calendar_folder", ["'Calendar'"], f"the mailbox {ALICE}"),
}


@pytest.fixture(params=["caldav", *PEERS])
def calendars(request) -> Calendars:
    if request.param == "caldav":
        return request.getfixturevalue("caldav_calendars")
    peer, connection, adder, there, where = PEERS[request.param]
    make = getattr(request.getfixturevalue(peer), adder)

    def add(display: str) -> tuple[str, str]:
        return make(ALICE, display), repr(display)

    return Calendars(request.getfixturevalue(connection), request.getfixturevalue("alice"), add, there, where)


@pytest.fixture
def caldav_calendars(fresh, caldav_connection, radicale) -> Calendars:
    segments = (f"c{n}" for n in itertools.count(1))

    def add(display: str) -> tuple[str, str]:
        segment = next(segments)
        return make_calendars(radicale, fresh, (display, segment))[segment], f"{display!r} ({segment})"

    home = f"{radicale.url.rstrip('/')}/{fresh.mailbox.split('@')[0]}/"
    where = f"{fresh.mailbox} (calendar home {home}, through the account 'helpdesk')"
    return Calendars(caldav_connection, fresh, add, [], where)


def test_a_calendar_name_matches_the_display_name_ignoring_case(calendars):
    calendars.add("Home")
    work, _ = calendars.add("Helpdesk Jobs")

    link = services.connect_agent(calendars.agent, connection=calendars.connection, calendar="helpdesk JOBS")

    assert link.calendar_id == work


def test_two_calendars_matching_a_name_are_refused_naming_both(calendars):
    _, first = calendars.add("Work")
    _, second = calendars.add("WORK")

    with pytest.raises(ConnectionProblem) as refused:
        services.connect_agent(calendars.agent, connection=calendars.connection, calendar="work")

    text = str(refused.value)
    assert text.startswith(f"2 calendars of {calendars.where} match 'work' (")
    assert first in text and second in text  # in the order the server lists them
    assert not AgentCalendar.objects.filter(agent=calendars.agent).exists()


def test_a_name_no_calendar_has_is_refused_naming_those_there_are(calendars):
    labels = [calendars.add(display)[1] for display in ("Home", "Support rota")]

    with pytest.raises(ConnectionProblem) as refused:
        services.connect_agent(calendars.agent, connection=calendars.connection, calendar="Work")

    head = f"No calendar of {calendars.where} is called 'Work': its calendars are "
    tail = ". Give one of these names (case does not matter), or leave the name empty for the default calendar."
    text = str(refused.value)
    assert text.startswith(head) and text.endswith(tail)
    assert sorted(text[len(head) : -len(tail)].split(", ")) == sorted(calendars.there + labels)
    assert not AgentCalendar.objects.filter(agent=calendars.agent).exists()


def test_caldav_calendar_name_matches_the_last_segment_of_its_address_ignoring_case(fresh, caldav_connection, radicale):
    made = make_calendars(radicale, fresh, ("Support", "team-rota"), ("Other", "x9"))

    link = services.connect_agent(fresh, connection=caldav_connection, calendar="Team-Rota")

    assert link.calendar_id == made["team-rota"]
