"""`{{ moment|when }}` and `{{ start|span:end }}`: dates and times in the one format of pages and
messages (helpdesk.moments)."""

from django import template

from helpdesk.moments import span_text, when_text

register = template.Library()
register.filter("when", when_text)
register.filter("span", span_text)
