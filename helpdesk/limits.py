"""The range of dates the helpdesk accepts, checked where input enters (forms, API, models).

Python's datetime ends at years 1 and 9999, and the helpdesk adds to what it is given (an
estimate to a planned start, an hour to a clicked slot, a year of occurrences to a series,
a time zone's offset to show it). A moment near either end overflows in that arithmetic and
answers 500; so input outside settings.SUPPORTED_FIRST_YEAR .. SUPPORTED_LAST_YEAR (1900 to
2199 unless set) is refused with a message on the field, before anything is written.
"""

import functools
import re
from datetime import UTC, date, datetime

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


EXAMPLE_DATE = "2035-03-05"


def date_problem(text: str) -> str:
    """Why `text` (typed or sent) is not a date, for the person who wrote it: the shape of one
    but no such day (2026-02-30), or not a date as year-month-day at all."""
    text = str(text).strip()[:40]
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        return f"{text} is no real date: check the day and the month (year-month-day, as {EXAMPLE_DATE})."
    return f"“{text}” is not a date: give one as year-month-day, for example {EXAMPLE_DATE}."


def date_range_message(day: date) -> str:
    """A date outside the supported range: the day given, then the range."""
    return f"{day.isoformat()} is outside the dates the helpdesk supports. {range_message()}"


class SupportedDateField(forms.DateField):
    """A form's date field that says what is wrong with the date typed (`date_problem`, not
    "Enter a valid date.") and refuses a date outside the supported range."""

    def to_python(self, value):
        try:
            day = super().to_python(value)
        except ValidationError as error:
            if error.code != "invalid":
                raise
            raise ValidationError(date_problem(value), code="invalid") from None
        if day is not None and not settings.SUPPORTED_FIRST_YEAR <= day.year <= settings.SUPPORTED_LAST_YEAR:
            raise ValidationError(date_range_message(day), code="out_of_range")
        return day


class SupportedDateTimeField(forms.DateTimeField):
    """A form's date-time field that refuses dates outside the supported range, and reads a
    wall-clock time a DST change skips or repeats as RFC 5545 3.3.5 does (the offset before a
    gap; the first of two), where Django's own field refuses it as "ambiguous or not existing"."""

    def to_python(self, value):
        from calendars.times import parse_moment, read_wall_clock

        try:
            moment = super().to_python(value)
        except ValidationError as error:
            if error.code == "invalid":  # the parser's words say what is wrong ("no real date")
                try:
                    parse_moment(str(value), timezone.get_current_timezone())
                except ValueError as problem:
                    raise ValidationError(str(problem), code="invalid") from None
                raise
            if error.code != "ambiguous_timezone":
                raise

            moment = read_wall_clock(error.params["datetime"], timezone.get_current_timezone())
        if not is_supported(moment):
            raise ValidationError(range_message(), code="out_of_range")
        return moment


def _serializer_fields() -> dict[str, type]:
    """The API's date-time and date fields that refuse dates outside the supported range (DRF
    fields), by class name."""
    from rest_framework import serializers

    class SupportedDateTimeSerializerField(serializers.DateTimeField):
        """The API's date-time field that refuses dates outside the supported range, and says
        what is wrong with a value it cannot read (calendars.times.parse_moment's words)."""

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
                if error.get_codes() == ["invalid"] and isinstance(value, str):
                    from calendars.times import parse_moment

                    try:  # the parser's words say what is wrong ("no real date"), not "wrong format"
                        parse_moment(value, timezone.get_current_timezone())
                    except ValueError as problem:
                        raise serializers.ValidationError(str(problem)) from None
                raise
            if not is_supported(moment):
                raise serializers.ValidationError(range_message())
            return moment

    class SupportedDateSerializerField(serializers.DateField):
        """The API's date field: says what is wrong with the date sent (`date_problem`, not
        "Date has wrong format") and refuses a date outside the supported range."""

        def to_internal_value(self, value):
            try:
                day = super().to_internal_value(value)
            except serializers.ValidationError as error:
                if error.get_codes() != ["invalid"]:
                    raise
                raise serializers.ValidationError(date_problem(value)) from None
            if not settings.SUPPORTED_FIRST_YEAR <= day.year <= settings.SUPPORTED_LAST_YEAR:
                raise serializers.ValidationError(date_range_message(day))
            return day

    for made in (SupportedDateTimeSerializerField, SupportedDateSerializerField):
        made.__module__ = __name__
        made.__qualname__ = made.__name__
    return {made.__name__: made for made in (SupportedDateTimeSerializerField, SupportedDateSerializerField)}


def __getattr__(name: str):
    # The API's fields are made on first use: importing DRF's serializers imports psycopg, requests
    # and pygments (rest_framework.compat), and the models' checks here must not pay for that in a
    # worker that serves no API (issue 14: a third of `sync_calendars`' start-up).
    if name in ("SupportedDateTimeSerializerField", "SupportedDateSerializerField"):
        globals().update(_serializer_fields())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
