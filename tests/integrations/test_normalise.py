"""What systems rewrite, normalised in one place (issue 9, items 6 and 8). The right values:
dateutil expands both spellings of a rule to the same starts (RFC 5545 3.3.10 defaults), and the
template renders the recovered text back to exactly what the remote shows."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from calendars.formatting import render_template
from integrations.sync.mapping import untemplate
from integrations.sync.normalise import normalise_text, rrule_key

START = datetime(2026, 3, 1, 9, 0)  # a Sunday, floating: dateutil's footing


@pytest.mark.parametrize(
    "exchange, ours",
    [
        ("FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;COUNT=4", "BYDAY=SU;COUNT=4;FREQ=WEEKLY"),
        ("FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;WKST=MO;COUNT=6", "FREQ=WEEKLY;BYDAY=WE,MO;COUNT=6"),
    ],
)
def test_rule_spellings_that_give_the_same_series_compare_equal(exchange, ours):
    assert list(rrulestr(exchange, dtstart=START)) == list(rrulestr(ours, dtstart=START))
    assert rrule_key(exchange) == rrule_key(ours)


def test_until_as_the_end_of_the_last_day_equals_until_as_the_last_start():
    # Exchange keeps an end date, read back as 23:59:59 on the series' wall clock in UTC; a phone
    # writes the last occurrence's start. Both end the daily 09:00 series on 10 March in Amsterdam.
    start = datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    exchange, phone = "FREQ=DAILY;INTERVAL=1;UNTIL=20260310T225959Z", "FREQ=DAILY;UNTIL=20260310T080000Z"
    assert list(rrulestr(exchange, dtstart=start)) == list(rrulestr(phone, dtstart=start))
    assert rrule_key(exchange, "Europe/Amsterdam") == rrule_key(phone, "Europe/Amsterdam")


@pytest.mark.parametrize(
    "exchange, ours",
    [
        ("FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;COUNT=4", "FREQ=WEEKLY;COUNT=4"),  # Exchange and Graph name the day
        ("FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=1;COUNT=3", "FREQ=MONTHLY;COUNT=3"),
        ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1;COUNT=2", "FREQ=YEARLY;COUNT=2"),
    ],
)
def test_parts_that_restate_dtstart_compare_equal_to_the_rule_without_them(exchange, ours):
    """RFC 5545 3.3.10: what a rule leaves out comes from DTSTART (a Sunday, 1 March)."""
    assert list(rrulestr(exchange, dtstart=START)) == list(rrulestr(ours, dtstart=START))
    assert rrule_key(exchange, start=START) == rrule_key(ours, start=START)


def test_a_named_day_that_is_not_dtstarts_stays_a_different_series():
    monday = datetime(2026, 3, 2, 9, 0)
    assert list(rrulestr("FREQ=WEEKLY;BYDAY=SU;COUNT=4", dtstart=monday)) != list(
        rrulestr("FREQ=WEEKLY;COUNT=4", dtstart=monday)
    )
    assert rrule_key("FREQ=WEEKLY;BYDAY=SU;COUNT=4", start=monday) != rrule_key("FREQ=WEEKLY;COUNT=4", start=monday)


def test_dtstarts_day_is_read_on_the_series_wall_clock():
    # Monday 00:30 in Amsterdam is still Sunday in UTC: the rule's day is Amsterdam's.
    start = datetime(2026, 3, 2, 0, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert list(rrulestr("FREQ=WEEKLY;BYDAY=MO;COUNT=3", dtstart=start)) == list(
        rrulestr("FREQ=WEEKLY;COUNT=3", dtstart=start)
    )
    assert rrule_key("FREQ=WEEKLY;BYDAY=MO;COUNT=3", "Europe/Amsterdam", start) == rrule_key(
        "FREQ=WEEKLY;COUNT=3", "Europe/Amsterdam", start
    )


@pytest.mark.parametrize(
    "different",
    ["FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;COUNT=4", "FREQ=WEEKLY;BYDAY=SU;COUNT=5", "FREQ=WEEKLY;BYDAY=SA;COUNT=4"],
)
def test_rules_that_give_another_series_stay_different(different):
    assert rrule_key(different) != rrule_key("FREQ=WEEKLY;BYDAY=SU;COUNT=4")


@pytest.mark.parametrize(
    "graph, ours, same",
    [
        # Graph writes firstDayOfWeek back as WKST=SU; for these rules it cannot move a date.
        ("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6;WKST=SU", "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6", True),
        ("FREQ=MONTHLY;BYDAY=1MO;COUNT=4;WKST=SU", "FREQ=MONTHLY;BYDAY=1MO;COUNT=4", True),
        ("FREQ=DAILY;COUNT=10;WKST=SU", "FREQ=DAILY;COUNT=10", True),
        # RFC 5545 3.3.10's own example: every other week on TU,SU gives other dates with WKST=SU.
        ("FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU", "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU", False),
        # Review 5: BYSETPOS picks from a week that WKST begins, so the first of SU,MO moves.
        ("FREQ=WEEKLY;BYDAY=SU,MO;BYSETPOS=1;COUNT=4;WKST=SU", "FREQ=WEEKLY;BYDAY=SU,MO;BYSETPOS=1;COUNT=4", False),
    ],
)
def test_wkst_counts_only_where_it_changes_the_dates(graph, ours, same):
    start = datetime(1997, 8, 5, 9, 0)  # a Tuesday, RFC 5545's example
    assert (list(rrulestr(graph, dtstart=start)) == list(rrulestr(ours, dtstart=start))) is same
    assert (rrule_key(graph, start=start) == rrule_key(ours, start=start)) is same


def test_an_html_body_reads_as_its_text():
    outlook = (
        "<html><head><style>p{margin:0}</style></head><body><p>Bring keys&nbsp;</p><p>Call first</p></body></html>"
    )
    assert normalise_text(outlook) == normalise_text("Bring keys\r\nCall first  \r\n")


def test_text_with_angle_brackets_is_not_taken_for_html():
    assert normalise_text("Temp < 5 and > 2") == "Temp < 5 and > 2"


@pytest.mark.parametrize(
    "template, shown, own",
    [
        ("[HD] {subject}", "[HD] X (call first)", "X (call first)"),
        ("#{request_number} {subject} ({agents})", "#42 Server room (call first) (Alice)", "Server room (call first)"),
        ("{subject}", "[HD] X", "[HD] X"),
    ],
)
def test_a_templated_text_reads_back_as_the_text_that_renders_to_it(template, shown, own):
    values = {"request_number": 42, "agents": "Alice"}
    assert untemplate(template, shown, values, field="subject") == own
    assert render_template(template, {**values, "subject": own}) == shown


def test_a_text_that_no_longer_fits_the_template_is_not_read_through_it():
    assert untemplate("[HD] {subject}", "X (call first)", {}, field="subject") is None
    assert untemplate("Visit #{request_number}", "Visit #42", {"request_number": 42}, field="subject") is None
