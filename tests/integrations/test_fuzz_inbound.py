"""The inbound fuzz campaign (issue 11): hostile payloads of every format the helpdesk reads, each
through its provider's real parser and mapping and then the inbound import into the database.

For every input: nothing but the ProviderError family comes out (UnreadableEntry with a message
that names the system and the reason); an entry is written whole (the appointment with its
technician, a series with its schedule) or not at all; each entry costs bounded time and memory.

Formats and paths (the real client libraries, fed what the local peers and clients send):
- iCalendar (RFC 5545): the corpus files, mutated, and generated calendars -> icalendar through
  `caldav.read_event` (the parser `list_changes` and `get` use);
- EWS (MS-OXWSCORE CalendarItem): items as the EWS peer renders them, mutated at element level ->
  exchangelib's own XML parsing (`to_xml`, `CalendarItem.from_xml`) -> `exchange.mapping.event_from_item`;
- Microsoft Graph (event resource JSON): the Graph peer's answers -> `graph.mapping.event_from_graph`
  or `series_from` (series with their instances);
- Google Calendar (events resource JSON): the Google peer's resources -> `google.mapping.event_from_resource`.

Budget: 60 inputs a format under the default `ci` profile (derandomized: the same inputs every
run); 10,000 a format under `--hypothesis-profile=long`, or FUZZ_EXAMPLES=N. Run with `-s` to see the figures
(inputs, outcomes, slowest entry, largest peak memory).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections import Counter

import pytest
from django.db import transaction
from exchangelib import CalendarItem
from exchangelib.util import to_xml
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from calendars.models import Appointment, Schedule
from integrations.providers.base import ProviderError, UnreadableEntry
from integrations.providers.caldav import read_event
from integrations.providers.exchange.client import read_items
from integrations.providers.exchange.mapping import event_from_item
from integrations.providers.google.mapping import event_from_resource
from integrations.providers.graph import mapping as graph_mapping
from integrations.sync import inbound

from .fuzz_inputs import (
    JSON_KEYS,
    WINDOW_END,
    WINDOW_START,
    ews_seeds,
    generated_ical,
    google_seeds,
    graph_seeds,
    ical_seeds,
    json_values,
    mutated_ical,
    mutated_json,
    mutated_xml,
)

# The `long` profile explores more than `ci` (tests/conftest.py); the campaign's budget follows it.
LONG = settings.default.max_examples > settings.get_profile("ci").max_examples
# 500 a format cost `make test` about a minute on two loaded cores for inputs the long campaign
# repeats by the thousand; the inputs the campaigns found are kept as tests of their own below.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or (10_000 if LONG else 60))
# No `explain` phase: its line tracer grew one shrinking campaign to 18 GB of memory.
FUZZ = settings(max_examples=EXAMPLES, phases=[phase for phase in settings.default.phases if phase != Phase.explain])
# The whole campaign of one format is one pytest test: pytest-timeout's 300 s (pyproject) fits the
# CI budget, not 10,000 inputs. Each entry is still bounded (MAX_SECONDS_PER_ENTRY below).
CAMPAIGN_TIMEOUT = pytest.mark.timeout(max(300, EXAMPLES // 5))

# One entry, parsed and written, may take at most this long and this much memory (traced Python
# allocations at their peak). Generous for a loaded CI machine; a runaway series costs minutes and GiB.
MAX_SECONDS_PER_ENTRY = 10.0
MAX_MIB_PER_ENTRY = 128
# Tracing allocations doubles an entry's time: `ci` traces every fifth input, `long` every one.
TRACE_EVERY = 1 if LONG else 5

FIGURES: dict[str, dict] = {}


@pytest.fixture(scope="module", autouse=True)
def _figures():
    """Print what each format's run met (with -s), for the closing note of the campaign."""
    yield
    for name, figures in FIGURES.items():
        outcomes = ", ".join(f"{kind} {count}" for kind, count in figures["outcomes"].most_common())
        print(
            f"\nfuzz {name}: {figures['inputs']} inputs in {figures['seconds']:.1f} s; slowest entry "
            f"{figures['max_seconds'] * 1000:.0f} ms, largest peak {figures['max_mib']:.1f} MiB; {outcomes}"
        )


def _counts() -> tuple[int, int, int]:
    return Appointment.objects.count(), Schedule.objects.count(), Appointment.agents.through.objects.count()


def _check_whole(appointment: Appointment, event, agent) -> None:
    """The written entry is whole: the technician's, times in order, a series with its schedule, no
    NUL stored, a private entry without its text."""
    appointment.refresh_from_db()
    assert list(appointment.agents.all()) == [agent]
    assert appointment.start < appointment.end
    assert appointment.source == Appointment.Source.EXTERNAL
    if event.is_recurring:
        assert appointment.is_recurring_master and appointment.schedule is not None
    else:
        assert not appointment.occurrences.exists()
    for text in (appointment.subject, appointment.note, appointment.location):
        assert "\x00" not in text
    if event.private:
        assert (appointment.subject, appointment.note, appointment.location) == ("", "", "")


def through_inbound(name: str, agent, parse, payload=None) -> str:
    """parse() (payload -> RemoteEvent | None) and the import of its entry, as the engine runs
    them, inside a transaction rolled back afterwards; the outcome's name. Fails on any error but a
    ProviderError, on a refused entry that left rows behind, and on an entry over the bounds."""
    figures = FIGURES.setdefault(
        name, {"inputs": 0, "outcomes": Counter(), "max_seconds": 0.0, "max_mib": 0.0, "seconds": 0.0}
    )
    before = _counts()
    traced = figures["inputs"] % TRACE_EVERY == 0
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    try:
        with transaction.atomic():
            try:
                event = parse()
                if event is None:
                    outcome = "no event"
                else:
                    appointment = inbound.import_remote_event(agent, event)
                    _check_whole(appointment, event, agent)
                    outcome = "imported"
            except ProviderError as error:
                assert str(error).strip(), "a refusal says why"
                assert isinstance(error, UnreadableEntry), (
                    f"an entry's content is refused as UnreadableEntry: {error!r}"
                )
                assert _counts() == before, f"a refused entry wrote rows: {error}"
                outcome = "refused"
            transaction.set_rollback(True)
    except MemoryError:
        # Reporting a failure this large runs out of memory too (pytest re-parses the source):
        # keep the input where a long run can be looked at afterwards.
        if os.environ.get("FUZZ_FIGURES"):
            with open(os.environ["FUZZ_FIGURES"] + ".memory", "a") as out:
                out.write(f"{name}: {payload!r}\n")
        raise
    finally:
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory() if traced else (0, 0)
        tracemalloc.stop()
    mib = peak / 2**20
    figures["inputs"] += 1
    figures["outcomes"][outcome] += 1
    figures["seconds"] += elapsed
    figures["max_seconds"] = max(figures["max_seconds"], elapsed)
    figures["max_mib"] = max(figures["max_mib"], mib)
    if os.environ.get("FUZZ_FIGURES") and figures["inputs"] % 100 == 0:  # progress of a long run
        with open(os.environ["FUZZ_FIGURES"], "a") as out:
            out.write(f"{name} {figures['inputs']} {figures['seconds']:.1f} {figures['max_seconds']:.3f} ")
            out.write(f"{figures['max_mib']:.1f} {dict(figures['outcomes'])}\n")
    shown = repr(payload)[:3000]
    assert elapsed < MAX_SECONDS_PER_ENTRY, f"one entry took {elapsed:.1f} s ({outcome}): {shown}"
    assert mib < MAX_MIB_PER_ENTRY, f"one entry took {mib:.0f} MiB ({outcome}): {shown}"
    return outcome


@pytest.fixture
def technician(make_agent):
    """The technician entries are imported for, after one unmeasured import of a seed of each
    format (the first import loads zone tables and code: not what an entry costs)."""
    agent = make_agent("tech", time_zone="Europe/Amsterdam")
    with transaction.atomic():
        for parse in (
            lambda: read_event(ical_seeds()[0], remote_id="/warm.ics"),
            lambda: _ews_event(ews_seeds()[2]),
            lambda: _graph_event(list(graph_seeds()[2])),
            lambda: _google_event(list(google_seeds()[3])),
        ):
            inbound.import_remote_event(agent, parse())
        transaction.set_rollback(True)
    return agent


# --- iCalendar (CalDAV) ---------------------------------------------------------------------

ical_inputs = st.deferred(
    lambda: st.one_of(
        st.sampled_from(range(len(ical_seeds()))).flatmap(lambda i: mutated_ical(ical_seeds()[i])),
        generated_ical(),
    )
)


@CAMPAIGN_TIMEOUT
@FUZZ
@given(text=ical_inputs)
def test_fuzz_icalendar(technician, text):
    through_inbound("icalendar", technician, lambda: read_event(text, remote_id="/cal/fuzz.ics", version='"1"'), text)


# --- EWS (Exchange) -------------------------------------------------------------------------


def _ews_event(xml: bytes):
    """exchangelib parses the element as it parses a GetItem answer, under the client's guard."""
    element = to_xml(xml).getroot()
    (item,) = read_items(lambda: [CalendarItem.from_xml(elem=element, account=None)])
    return event_from_item(item)


ews_inputs = st.deferred(
    lambda: st.sampled_from(range(len(ews_seeds()))).flatmap(lambda i: mutated_xml(ews_seeds()[i]))
)


@CAMPAIGN_TIMEOUT
@FUZZ
@given(xml=ews_inputs)
def test_fuzz_ews(technician, xml):
    through_inbound("ews", technician, lambda: _ews_event(xml), xml)


# --- Microsoft Graph ------------------------------------------------------------------------


def _graph_event(pair):
    master, instances = [*pair, None, None][:2] if isinstance(pair, list) else (pair, None)
    if instances is None:
        return graph_mapping.event_from_graph(master)
    return graph_mapping.series_from(master, instances, WINDOW_START, WINDOW_END)


def json_inputs(seeds):
    """A seed pair mutated, or an event made of known keys with hostile values."""
    return st.deferred(
        lambda: st.one_of(
            st.sampled_from(range(len(seeds()))).flatmap(lambda i: mutated_json(list(seeds()[i]))),
            st.dictionaries(st.sampled_from(JSON_KEYS), json_values, max_size=8),
        )
    )


graph_inputs = json_inputs(graph_seeds)


@CAMPAIGN_TIMEOUT
@FUZZ
@given(pair=graph_inputs)
def test_fuzz_graph(technician, pair):
    through_inbound("graph", technician, lambda: _graph_event(pair), pair)


# --- Google Calendar ------------------------------------------------------------------------


def _google_event(pair):
    master, exceptions = [*pair, None, []][:2] if isinstance(pair, list) else (pair, [])
    return event_from_resource(master, exceptions or [], calendar_zone="Europe/Amsterdam")


google_inputs = json_inputs(google_seeds)


@CAMPAIGN_TIMEOUT
@FUZZ
@given(pair=google_inputs)
def test_fuzz_google(technician, pair):
    through_inbound("google", technician, lambda: _google_event(pair), pair)


# --- the seeds themselves are read and written whole ----------------------------------------


def test_every_seed_is_imported(technician):
    """The unmutated payloads are valid: each is imported (or, for a task-less text, has no event),
    so the campaign starts from inputs the parsers accept."""
    outcomes = [
        through_inbound("seeds", technician, lambda t=t: read_event(t, remote_id="/s.ics")) for t in ical_seeds()
    ]
    outcomes += [through_inbound("seeds", technician, lambda x=x: _ews_event(x)) for x in ews_seeds()]
    outcomes += [through_inbound("seeds", technician, lambda p=p: _graph_event(list(p))) for p in graph_seeds()]
    outcomes += [through_inbound("seeds", technician, lambda p=p: _google_event(list(p))) for p in google_seeds()]
    assert set(outcomes) == {"imported"}, Counter(outcomes)


def test_vtimezone_offsets_are_dateutils():
    """Found by the campaign: every Outlook entry (VTIMEZONE blocks from 1601) took 8-24 s to read,
    dateutil walking four centuries of onsets for each of the thousands of probes matching the
    block to an IANA zone. The one-pass reading gives dateutil's own offsets (the reference)."""
    import icalendar

    from calendars import times

    checked = 0
    for text in ical_seeds():
        for component in icalendar.Calendar.from_ical(text).walk("VEVENT"):
            zone = getattr(component.decoded("dtstart"), "tzinfo", None)
            if type(zone).__name__ != "_tzicalvtz":
                continue
            probes = times._probes(component.decoded("dtstart").year)[::31]
            assert times._vtimezone_offsets(zone, probes) == tuple(zone.utcoffset(p) for p in probes)
            checked += 1
    assert checked >= 3


def test_ews_start_in_year_zero_is_refused_plainly(technician):
    """Found by the campaign: a CalendarItem whose Start is in year 0 made exchangelib raise
    ValueError while parsing the answer, out of the connector. Year 0 is no xs:dateTime year
    (XML Schema 1.0 3.2.7), so the answer is refused with a plain message."""
    xml = ews_seeds()[0].replace(b"<t:Start>2026-12-01T08:00:00Z</t:Start>", b"<t:Start>0000-12-01T08:00:00Z</t:Start>")
    assert b"0000-12-01" in xml
    # The seed is a private entry: the reason is given without quoting it (test_unreadable_private.py).
    with pytest.raises(UnreadableEntry, match="Exchange sent a private entry the helpdesk cannot read"):
        _ews_event(xml)
    public = xml.replace(b"<t:Sensitivity>Private</t:Sensitivity>", b"<t:Sensitivity>Normal</t:Sensitivity>")
    with pytest.raises(UnreadableEntry, match="Exchange sent an entry the helpdesk cannot read"):
        _ews_event(public)


def test_graph_zone_name_too_long_for_a_file_name_is_read_safely(technician):
    """Found by the long campaign: a Graph dateTimeTimeZone whose timeZone is 300 characters made
    zoneinfo try to open a file of that name and raise OSError (ENAMETOOLONG), out of the
    connector. A zone name is only looked up among the known zones (IANA tzdb names, CLDR's Windows
    names); one it does not know is read as UTC, as Graph's own default is (dateTimeTimeZone)."""
    event = {
        "id": "AAMk-long-zone",
        "subject": "Long zone",
        "start": {"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "x" * 300},
        "end": {"dateTime": "2026-12-01T10:00:00.0000000", "timeZone": "x" * 300},
    }
    remote = graph_mapping.event_from_graph(event)
    assert (remote.start.isoformat(), remote.end.isoformat()) == (
        "2026-12-01T09:00:00+00:00",
        "2026-12-01T10:00:00+00:00",
    )
    assert through_inbound("seeds", technician, lambda: graph_mapping.event_from_graph(event)) == "imported"


def test_a_long_made_up_exdate_zone_is_noted_and_the_series_kept():
    """The kind behind the Graph case, on a Google series' EXDATE TZID (review 2, fault 7): the name
    is looked up among the known zones like the start's timeZone, never opened as a zoneinfo file;
    one no table holds is noted and that line read on the series' zone, the series kept."""
    resource = {
        "id": "long-zone",
        "status": "confirmed",
        "summary": "Long zone",
        "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "Europe/Amsterdam"},
        "recurrence": ["RRULE:FREQ=WEEKLY", f"EXDATE;TZID={'x' * 300}:20261208T090000"],
    }
    event = event_from_resource(resource, [], calendar_zone="Europe/Amsterdam")
    assert event.rrules == ["FREQ=WEEKLY"]
    assert [d.isoformat() for d in event.exdates] == ["2026-12-08T09:00:00+01:00"]
    assert len(event.notes) == 1 and "x" * 80 in event.notes[0]


@pytest.mark.parametrize("freq", ["MINUTELY", "SECONDLY", "DAILY"])
def test_a_zone_whose_offsets_change_more_often_than_yearly_is_refused_by_name(freq):
    """Found by the long campaign: a VTIMEZONE observance with RRULE:FREQ=SECONDLY (a mutated
    Outlook zone, DTSTART 1601) made icalendar expand its onsets up to today when it read the
    block: the worker grew past 23 GB and was killed (MINUTELY took 26 s). Zone onsets repeat
    yearly (RFC 5545 3.6.5), so any other frequency is refused, folded or not."""
    rule = f"RRULE:FREQ={freq};BYMONTH=10;BYDAY=-1SU"
    folded = rule[:9] + "\r\n " + rule[9:]
    for line in (rule, folded):
        text = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Custom\r\nBEGIN:STANDARD\r\n"
            f"DTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n{line}\r\n"
            "END:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID=Custom:20261201T090000\r\n"
            "DTEND;TZID=Custom:20261201T100000\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        with pytest.raises(UnreadableEntry, match=f"repeats its offset changes {freq} instead of yearly"):
            read_event(text, remote_id="/cal/zone.ics")


def test_a_yearly_zone_rule_naming_every_hour_of_the_year_is_refused_by_name():
    """Found by the long campaign next: a yearly VTIMEZONE rule whose BYHOUR and BYMINUTE lists name
    thousands of onsets a year ran the campaign out of an 8 GB limit while icalendar expanded them
    from 1601. Real zones change offset a few times a year at most."""
    hours = ",".join(str(hour) for hour in range(24))
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Custom\r\nBEGIN:STANDARD\r\n"
        "DTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        f"RRULE:FREQ=YEARLY;BYMONTH=10;BYHOUR={hours}\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID=Custom:20261201T090000\r\n"
        "DTEND;TZID=Custom:20261201T100000\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(UnreadableEntry, match="changes its offset more than 12 times a year"):
        read_event(text, remote_id="/cal/zone.ics")
    # The Outlook zones of the corpus (two onsets a year) are read as before.
    assert all(read_event(seed, remote_id="/s.ics") is not None for seed in ical_seeds() if "VTIMEZONE" in seed)


def test_a_listing_checks_a_zone_read_before_once_and_still_refuses_a_bad_zone_beside_it():
    """A listing reads the zone blocks its entries repeat once (`read_event`'s zones_read), and
    checks each block once: a later entry that carries a block already read beside one whose
    onsets repeat hourly is still refused by name, and again when it is read a second time."""

    def calendar(*zones: str, tzid: str) -> str:
        return (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "".join(zones) + "BEGIN:VEVENT\r\nUID:z\r\n"
            f"DTSTART;TZID={tzid}:20261201T090000\r\nDTEND;TZID={tzid}:20261201T100000\r\nSUMMARY:x\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )

    def zone(tzid: str, rule: str) -> str:
        return (
            f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\n"
            f"TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:{rule}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        )

    good = zone("Listing good", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")
    hourly = zone("Listing hourly", f"FREQ=YEARLY;BYMONTH=10;BYHOUR={','.join(str(h) for h in range(24))}")
    zones_read: set[str] = set()
    assert read_event(calendar(good, tzid="Listing good"), remote_id="/c/1.ics", zones_read=zones_read) is not None
    assert good in zones_read
    for n in (2, 3):
        with pytest.raises(UnreadableEntry, match="changes its offset more than 12 times a year"):
            read_event(calendar(good, hourly, tzid="Listing good"), remote_id=f"/c/{n}.ics", zones_read=zones_read)
    assert hourly not in zones_read
    assert read_event(calendar(good, tzid="Listing good"), remote_id="/c/4.ics", zones_read=zones_read) is not None


def test_a_huge_value_where_a_privacy_marking_goes_costs_no_copy(technician):
    """Found by the long campaign: a Graph event whose `sensitivity` was an object holding 10 MB
    of text peaked at 140 MiB while refused, the privacy check turning that object into text to
    compare it. Only a text value is a marking (Graph `sensitivity`, Google `visibility` are
    strings); anything else is not read at all."""
    event = {"start": None, "end": None, "sensitivity": {"": "x" * (5 * 2**20), "a": "x" * (5 * 2**20)}}
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableEntry):
            graph_mapping.event_from_graph(event)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"{peak / 2**20:.1f} MiB to refuse it"
