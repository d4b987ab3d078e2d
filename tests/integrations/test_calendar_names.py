"""A calendar the admin names is found whatever the case of the name, for every connector that
takes names (trial: "Work" given, the CalDAV calendar is "work", and the link was refused): by
its display name (CalDAV DAV:displayname, RFC 4918 15.2; Graph calendar `name`; EWS
folder:DisplayName, which Exchange compares ignoring case, MS-OXWSFLDR) or, on CalDAV, by the last
segment of its address. Two calendars matching are refused naming both; none matching is refused
naming those there are. The calendars are made with the caldav library and the peers' own seeding,
not through the provider under test."""

import uuid

import caldav
import pytest

from integrations import services
from integrations.models import AgentCalendar
from integrations.providers.base import ConnectionProblem
from tests.integrations.conftest import USERS

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


def test_caldav_calendar_name_matches_the_display_name_ignoring_case(fresh, caldav_connection, radicale):
    made = make_calendars(radicale, fresh, ("Home", "a1"), ("Work", "b2"))

    link = services.connect_agent(fresh, connection=caldav_connection, calendar="work")

    assert link.calendar_id == made["b2"]


def test_caldav_calendar_name_matches_the_last_segment_of_its_address_ignoring_case(fresh, caldav_connection, radicale):
    made = make_calendars(radicale, fresh, ("Support", "team-rota"), ("Other", "x9"))

    link = services.connect_agent(fresh, connection=caldav_connection, calendar="Team-Rota")

    assert link.calendar_id == made["team-rota"]


def test_caldav_two_calendars_matching_a_name_are_refused_naming_both(fresh, caldav_connection, radicale):
    make_calendars(radicale, fresh, ("Work", "w1"), ("WORK", "w2"))

    with pytest.raises(ConnectionProblem) as refused:
        services.connect_agent(fresh, connection=caldav_connection, calendar="work")

    text = " ".join([str(refused.value)])
    assert "2 calendars of" in text and "match 'work'" in text
    assert "'Work' (w1)" in text and "'WORK' (w2)" in text
    assert not AgentCalendar.objects.filter(agent=fresh).exists()


def test_caldav_a_name_no_calendar_has_is_refused_naming_those_there_are(fresh, caldav_connection, radicale):
    make_calendars(radicale, fresh, ("Home", "a1"), ("Support rota", "rota"))

    with pytest.raises(ConnectionProblem) as refused:
        services.connect_agent(fresh, connection=caldav_connection, calendar="Work")

    text = " ".join([str(refused.value)])
    assert "is called 'Work'" in text
    assert "its calendars are 'Home' (a1), 'Support rota' (rota)" in text
    assert fresh.mailbox in text  # whose calendars were searched: the technician's home
