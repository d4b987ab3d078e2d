"""The calendar format: subject and body of external entries from the admins' templates, and the
title every calendar shows (the widget, the phone feed, and by default the external entry).

A planned request (S1.1) and an action logged on it (S1.2) have the same subject, the request's
"#12 Printer": the title names the action's entry "Work logged: #12 Printer", so a technician tells
the work done from the plan. The subject itself stays as typed (edited, imported and read back
through the templates as it is); `{source}` and `{title}` let admins' templates say it their way.
"""

from string import Formatter

TEMPLATE_FIELDS = ("subject", "note", "request_number", "summary", "customer", "site", "agents", "source", "title")

# What `{source}` gives for each Appointment.Source value (by value: no model import here).
SOURCE_WORDS = {"planned": "Planned", "action": "Work logged", "manual": "Appointment", "external": "External"}
# Before an action's subject in its title.
WORK_LOGGED_PREFIX = SOURCE_WORDS["action"] + ": "


def title_prefix(source: str) -> str:
    """What the title puts before the subject of an entry of this source ("" but for actions)."""
    return WORK_LOGGED_PREFIX if source == "action" else ""


def entry_title(source: str, subject: str) -> str:
    """The title calendars show for an entry: its subject, "Work logged: " first for an action's."""
    return title_prefix(source) + subject


def check_template(template: str) -> str:
    """An empty string if the template is usable, else what is wrong with it."""
    try:
        names = [name for _, name, spec, conversion in Formatter().parse(template) if name is not None]
    except ValueError as error:
        return f"The template is not valid: {error}. Write fields as {{subject}}; a literal brace as {{{{ or }}}}."
    unknown = sorted({name for name in names if name not in TEMPLATE_FIELDS})
    if unknown:
        return f"Unknown field(s): {', '.join(unknown)}. Use: " + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS) + "."
    if any(name == "" for name in names):
        return "Name every field, for example {subject}."
    return ""


def source_words(source: str) -> str:
    """`{source}` of an entry: "Planned", "Work logged", "Appointment" or "External"."""
    return SOURCE_WORDS.get(source, "")


def render_template(template: str, values: dict[str, object]) -> str:
    """Fill a checked template; fields with no value become empty."""
    safe = {name: "" if values.get(name) is None else str(values[name]) for name in TEMPLATE_FIELDS}
    return Formatter().vformat(template, (), safe)
