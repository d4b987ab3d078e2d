"""SYNC_KEPT_EXTENDED_PROPERTIES: other tools' extended properties named in Microsoft Graph's id
form ("Get singleValueLegacyExtendedProperty" / "Extended properties overview": a type, then a
property set GUID with a Name or an Id, or a proptag alone) and the $expand a Graph read sends."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from integrations.providers.base import KeptProperty, kept_properties
from integrations.providers.graph.mapping import MARKER_PROPERTY_ID, expand_properties

SET = "66f5a359-4659-4830-9070-00047ec6ac6e"


def test_the_three_id_forms_of_graph_are_read_and_our_marker_is_never_kept(settings):
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [
        f"String {{{SET}}} Name Booking Ref",
        f"StringArray {{{SET.upper()}}} Name Tags",
        "Integer {00062002-0000-0000-C000-000000000046} Id 0x8233",
        "String 0x0037",
        MARKER_PROPERTY_ID,
    ]

    assert kept_properties(own=MARKER_PROPERTY_ID) == (
        KeptProperty(id=f"String {{{SET}}} Name Booking Ref", type="String", property_set=SET, name="Booking Ref"),
        KeptProperty(id=f"StringArray {{{SET.upper()}}} Name Tags", type="StringArray", property_set=SET, name="Tags"),
        KeptProperty(
            id="Integer {00062002-0000-0000-C000-000000000046} Id 0x8233",
            type="Integer",
            property_set="00062002-0000-0000-c000-000000000046",
            number=0x8233,
        ),
        KeptProperty(id="String 0x0037", type="String", tag=0x37),
    )


@pytest.mark.parametrize("text", ["BookingRef", f"String {{{SET}}} BookingRef", "String {not-a-guid} Name X"])
def test_a_name_not_in_graphs_id_form_is_refused_and_fails_the_system_check(settings, text):
    settings.SYNC_KEPT_EXTENDED_PROPERTIES = [text]
    with pytest.raises(ImproperlyConfigured, match="SYNC_KEPT_EXTENDED_PROPERTIES"):
        kept_properties()
    assert [error.id for error in checks.run_checks()] == ["integrations.E001"]


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
