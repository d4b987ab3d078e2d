"""`{{ moment|when }}`, `{{ start|span:end }}` and `{{ appointment|entry_when }}`: dates and times
in the one format of pages and messages (helpdesk.moments)."""

from django import template
from django.utils import timezone

from helpdesk.moments import entry_span_text, span_text, when_text

register = template.Library()
register.filter("when", when_text)
register.filter("span", span_text)


@register.filter
def entry_when(appointment) -> str:
    """An appointment's time as messages name it: an all-day one's days ("Wed 16 Dec 2026 (all
    day)"), any other's start and end on the reader's clock."""
    days = appointment.day_span(timezone.get_current_timezone()) if appointment.all_day else None
    return entry_span_text(appointment.start, appointment.end, days=days)
