"""SYNC_KEPT_EXTENDED_PROPERTIES: other tools' extended properties named in Microsoft Graph's id
form ("Get singleValueLegacyExtendedProperty" / "Extended properties overview": a type, then a
property set GUID with a Name or an Id, or a proptag alone), the $expand a Graph read sends, and
the values refused: not in that form, a type Graph and exchangelib do not share
(`ExtendedProperty.PROPERTY_TYPES`), a proptag of the named range (from 0x8000, [MS-OXPROPS]), a
property the helpdesk or Exchange owns, or one exchangelib cannot build."""

import threading
import time

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from exchangelib import CalendarItem

from integrations.providers.base import KeptProperty, ProviderError, kept_properties
from integrations.providers.exchange.mapping import item_fields, kept_fields
from integrations.providers.graph.mapping import MARKER_PROPERTY_ID, expand_properties

SET = "66f5a359-4659-4830-9070-00047ec6ac6e"  # a made-up CRM's own property set


def test_the_three_id_forms_of_graph_are_read_with_the_type_as_graph_writes_it(settings):
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [
        f"String {{{SET}}} Name CrmCaseId",
        f"stringarray {{{SET.upper()}}} Name Tags",
        f"Integer {{{SET}}} Id 0x1234",
        "SYSTEMTIME 0x7001",
    ]

    assert kept_properties() == (
        KeptProperty(id=f"String {{{SET}}} Name CrmCaseId", type="String", property_set=SET, name="CrmCaseId"),
        KeptProperty(id=f"StringArray {{{SET.upper()}}} Name Tags", type="StringArray", property_set=SET, name="Tags"),
        KeptProperty(id=f"Integer {{{SET}}} Id 0x1234", type="Integer", property_set=SET, number=0x1234),
        KeptProperty(id="SystemTime 0x7001", type="SystemTime", tag=0x7001),
    )
    assert checks.run_checks() == []


def refused_by_the_check(settings, text: str, reads=(expand_properties, item_fields)) -> str:
    """The one system check error for `text` as the setting's only value; the providers' reads
    (`reads`: Graph's $expand, EWS's fields) refuse it with the same message as a ProviderError."""
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [text]
    (error,) = checks.run_checks()
    assert error.id == "integrations.E001"
    assert error.msg.startswith(f"SYNC_KEPT_EXTENDED_PROPERTIES: {text!r} ")
    for read in reads:
        with pytest.raises(ProviderError) as refusal:
            read()
        assert str(refusal.value) == error.msg
    return error.msg


@pytest.mark.parametrize("text", ["CrmCaseId", f"String {{{SET}}} CrmCaseId", "String {not-a-guid} Name X"])
def test_a_name_not_in_graphs_id_form_is_refused(settings, text):
    assert "is not an extended property id as Microsoft Graph writes it" in refused_by_the_check(settings, text)
    with pytest.raises(ImproperlyConfigured):
        kept_properties()


@pytest.mark.parametrize("text", [f"Object {{{SET}}} Name CrmCaseId", "Strings 0x7001", f"Int {{{SET}}} Id 0x1"])
def test_a_type_graph_and_exchangelib_do_not_share_is_refused(settings, text):
    assert "which is no MAPI type Graph and EWS share" in refused_by_the_check(settings, text)


@pytest.mark.parametrize("text", ["String 0x8001", "Integer 0xFFFE", "String 0x0"])
def test_a_proptag_of_the_named_range_or_none_is_refused(settings, text):
    assert "which is no property's own tag" in refused_by_the_check(settings, text)


@pytest.mark.parametrize(
    ("text", "owner"),
    [
        ("String 0x0037", "PidTagSubject"),
        ("string 0x1000", "PidTagBody"),
        ("Binary 0x1013", "PidTagBodyHtml"),
        ("SystemTime 0x0060", "PidTagStartDate"),
        ("SystemTime 0x0061", "PidTagEndDate"),
        ("Integer {00062002-0000-0000-C000-000000000046} Id 0x8233", "PSETID_Appointment"),
        ("String {00062002-0000-0000-c000-000000000046} Name Anything", "PSETID_Appointment"),
        ("Binary {6ED8DA90-450B-101B-98DA-00AA003F1305} Id 0x3", "PSETID_Meeting"),
        ("Integer {00062008-0000-0000-C000-000000000046} Id 0x8501", "PSETID_Common"),
        ("StringArray {00020329-0000-0000-C000-000000000046} Name Keywords", "PidNameKeywords"),
        (MARKER_PROPERTY_ID, "the helpdesk's own marker"),
    ],
)
def test_a_property_the_helpdesk_or_exchange_owns_is_refused_saying_why(settings, text, owner):
    message = refused_by_the_check(settings, text)
    assert f"is {owner}" in message
    assert "Outlook extended properties overview" in message
    assert "not for data exposed as first-class properties" in message


def test_a_value_exchangelib_cannot_build_fails_the_check_naming_it(settings):
    """Id 0 passes Graph's form, but exchangelib takes a zero property_id as none set and refuses the
    field ("'property_id' or 'property_name' must also be set"): EWS reads refuse it (Graph's do not
    build exchangelib's fields)."""
    message = refused_by_the_check(settings, f"Integer {{{SET}}} Id 0x0", reads=[item_fields])
    assert "is refused by Exchange's client" in message
    assert "must also be set" in message


def test_two_threads_first_reads_register_each_exchange_field_once(settings, monkeypatch):
    """CalendarItem's fields are process-global (a threads or gevent worker pool): two first reads at
    once must both get the fields, not the second one's "already registered" from exchangelib. Its
    register is slowed so that both threads are inside a first read together."""
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [f"String {{{SET}}} Name ThreadedCaseId"]
    register = CalendarItem.register.__func__
    calls = []

    def slow_register(cls, name, attr_cls):
        calls.append(name)
        time.sleep(0.2)
        return register(cls, name, attr_cls)

    monkeypatch.setattr(CalendarItem, "register", classmethod(slow_register))
    start = threading.Barrier(2)
    results, errors = [], []

    def first_read():
        start.wait()
        try:
            results.append(kept_fields())
        except Exception as error:  # what a thread raised, for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=first_read) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(calls) == 1
        assert results[0] == results[1]
        ((name, _),) = results[0]
        assert name in {f.name for f in CalendarItem.FIELDS}
    finally:
        for name in set(calls):
            CalendarItem.deregister(name)


def test_a_graph_read_asks_for_our_marker_and_each_kept_property_by_id(settings):
    """Graph returns an extended property only when asked for by its id ($filter with eq on id),
    single- and multi-valued ones in their own collections; a quote is doubled (OData)."""
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [f"String {{{SET}}} Name Client's ref", f"StringArray {{{SET}}} Name Tags"]

    assert expand_properties() == (
        f"singleValueExtendedProperties($filter=id eq '{MARKER_PROPERTY_ID}'"
        f" or id eq 'String {{{SET}}} Name Client''s ref'),"
        f"multiValueExtendedProperties($filter=id eq 'StringArray {{{SET}}} Name Tags')"
    )
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = []
    assert expand_properties() == f"singleValueExtendedProperties($filter=id eq '{MARKER_PROPERTY_ID}')"
