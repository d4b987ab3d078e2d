"""`{{ value|duration }}`: a timedelta as "1 h 30 min" (helpdesk.durations)."""

from django import template

from helpdesk.durations import duration_text

register = template.Library()
register.filter("duration", duration_text)
