"""The calendar format: subject and body of external entries from the admins' templates."""

from string import Formatter

TEMPLATE_FIELDS = ("subject", "note", "request_number", "summary", "customer", "site", "agents")


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


def render_template(template: str, values: dict[str, object]) -> str:
    """Fill a checked template; fields with no value become empty."""
    safe = {name: "" if values.get(name) is None else str(values[name]) for name in TEMPLATE_FIELDS}
    return Formatter().vformat(template, (), safe)
