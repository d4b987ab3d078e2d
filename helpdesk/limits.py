"""The range of dates the helpdesk accepts, checked where input enters (forms, API, models).

Python's datetime ends at years 1 and 9999, and the helpdesk adds to what it is given (an
estimate to a planned start, an hour to a clicked slot, a year of occurrences to a series,
a time zone's offset to show it). A moment near either end overflows in that arithmetic and
answers 500; so input outside settings.SUPPORTED_FIRST_YEAR .. SUPPORTED_LAST_YEAR (1900 to
2199 unless set) is refused with a message on the field, before anything is written.
"""

import functools
from datetime import UTC, datetime

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone


def supported_range() -> tuple[datetime, datetime]:
    """(first moment, first moment after the range), both in UTC."""
    return _range(settings.SUPPORTED_FIRST_YEAR, settings.SUPPORTED_LAST_YEAR)


@functools.lru_cache(maxsize=8)  # checked twice for every appointment an import writes
def _range(first: int, last: int) -> tuple[datetime, datetime]:
    return datetime(first, 1, 1, tzinfo=UTC), datetime(last + 1, 1, 1, tzinfo=UTC)


def range_message() -> str:
    return f"Give a date between {settings.SUPPORTED_FIRST_YEAR} and {settings.SUPPORTED_LAST_YEAR}."


def is_supported(moment: datetime | None, *, within: tuple[datetime, datetime] | None = None) -> bool:
    """Whether an aware moment (or a naive one, read as UTC give or take a day) is in range.
    `within`: `supported_range()` when the caller has it already."""
    if moment is None:
        return True
    first, after = within or supported_range()
    if moment.tzinfo is None:
        return first.replace(tzinfo=None) <= moment < after.replace(tzinfo=None)
    return first <= moment < after


def check_supported(**moments: datetime | None) -> None:
    """Raise ValidationError({field: message}) for the first moment outside the range."""
    within = supported_range()
    for field, moment in moments.items():
        if not is_supported(moment, within=within):
            raise ValidationError({field: range_message()})


class SupportedDateTimeField(forms.DateTimeField):
    """A form's date-time field that refuses dates outside the supported range, and reads a
    wall-clock time a DST change skips or repeats as RFC 5545 3.3.5 does (the offset before a
    gap; the first of two), where Django's own field refuses it as "ambiguous or not existing"."""

    def to_python(self, value):
        try:
            moment = super().to_python(value)
        except ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
            from calendars.times import read_wall_clock

            moment = read_wall_clock(error.params["datetime"], timezone.get_current_timezone())
        if not is_supported(moment):
            raise ValidationError(range_message(), code="out_of_range")
        return moment


def _serializer_field() -> type:
    """The API's date-time field that refuses dates outside the supported range (a DRF field)."""
    from rest_framework import serializers

    class SupportedDateTimeSerializerField(serializers.DateTimeField):
        """The API's date-time field that refuses dates outside the supported range."""

        def enforce_timezone(self, value):
            # A naive time on the caller's clock, read as RFC 5545 3.3.5 reads one: DRF would
            # refuse a repeated one ("Invalid datetime for the timezone") and keep a skipped one
            # unnormalised (02:30+01:00).
            if timezone.is_naive(value):
                from calendars.times import read_wall_clock

                return read_wall_clock(value, self.timezone if hasattr(self, "timezone") else self.default_timezone())
            return super().enforce_timezone(value)

        def to_internal_value(self, value):
            try:
                moment = super().to_internal_value(value)
            except OverflowError:  # a far date with an offset, before the range check
                raise serializers.ValidationError(range_message()) from None
            except serializers.ValidationError as error:
                if error.get_codes() == ["overflow"]:  # DRF's own "out of range": say which range
                    raise serializers.ValidationError(range_message()) from None
                raise
            if not is_supported(moment):
                raise serializers.ValidationError(range_message())
            return moment

    SupportedDateTimeSerializerField.__module__ = __name__
    SupportedDateTimeSerializerField.__qualname__ = "SupportedDateTimeSerializerField"
    return SupportedDateTimeSerializerField


def __getattr__(name: str):
    # The API's field is made on first use: importing DRF's serializers imports psycopg, requests
    # and pygments (rest_framework.compat), and the models' checks here must not pay for that in a
    # worker that serves no API (issue 14: a third of `sync_calendars`' start-up).
    if name == "SupportedDateTimeSerializerField":
        field = _serializer_field()
        globals()[name] = field
        return field
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
