"""Pieces every API module shares: service errors as JSON field messages, query parameters
and pagination."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination

from helpdesk import limits


@contextmanager
def service_errors() -> Iterator[None]:
    """A service's ValidationError becomes a 400 with the same field messages."""
    try:
        yield
    except DjangoValidationError as error:
        if hasattr(error, "error_dict"):
            detail = {
                ("non_field_errors" if field == "__all__" else field): messages
                for field, messages in error.message_dict.items()
            }
        else:
            detail = {"non_field_errors": error.messages}
        raise serializers.ValidationError(detail) from error


class Pages(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def parse_moment(value: str, name: str) -> datetime:
    """An ISO 8601 date or date-time; a date or a naive time is read in the site's time zone."""
    text = value.strip().replace(" ", "+") if "T" in value else value.strip()
    moment = None
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is not None:
                moment = datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise serializers.ValidationError({name: [f"Give {name} as an ISO 8601 date or date-time."]})
    if not limits.is_supported(moment):
        raise serializers.ValidationError({name: [limits.range_message()]})
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_ids(values: list[str], name: str) -> list[int]:
    try:
        ids = [int(value) for value in values if value != ""]
    except ValueError:
        raise serializers.ValidationError({name: [f"Give {name} as numbers."]}) from None
    if any(i < 1 or i > 2**62 for i in ids):
        raise serializers.ValidationError({name: [f"Give {name} as positive numbers."]})
    return ids


def parse_id(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    return parse_ids([value], name)[0]


def parse_bool(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")
