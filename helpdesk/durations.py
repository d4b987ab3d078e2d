"""Durations as people read and type them: whole minutes (the unit of the request and action
forms), shown as "1 h 30 min", never as Python's "1:30:00"."""

from datetime import timedelta

from django import forms

MAX_MINUTES = 366 * 24 * 60


def duration_text(value: timedelta | None) -> str:
    """`value` in hours and whole minutes: "1 h 30 min", "45 min", "2 h", "0 min"; seconds are
    dropped (durations are kept to the minute); "" for None. A negative value gets a minus sign."""
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60) if value >= timedelta(0) else -int(-value.total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    hours, minutes = divmod(minutes, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if minutes or not hours else [])
    return sign + " ".join(parts)


class MinutesField(forms.IntegerField):
    """A duration typed as whole minutes; cleans to a timedelta (None when empty).

    allow_zero: 0 is accepted (time taken); allow_negative: no lower bound here, for forms whose
    model says why (admin: `Action.clean`, `Request.clean`)."""

    def __init__(self, *, allow_zero: bool = False, allow_negative: bool = False, **kwargs):
        kwargs.pop("min_value", None)
        kwargs.pop("max_value", None)
        low = None if allow_negative else 0 if allow_zero else 1
        super().__init__(min_value=low, max_value=MAX_MINUTES, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, timedelta):
            return int(value.total_seconds() // 60)
        return value

    def clean(self, value):
        minutes = super().clean(value)
        return None if minutes is None else timedelta(minutes=minutes)


class MinutesInAdmin:
    """ModelAdmin / inline mix-in: every DurationField is typed and shown in minutes, its label
    saying so; bounds are the model's (its clean gives the message)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        from django.db import models

        if isinstance(db_field, models.DurationField):
            label = f"{db_field.verbose_name[:1].upper()}{db_field.verbose_name[1:]} (minutes)"
            return db_field.formfield(form_class=MinutesField, allow_negative=True, label=label, **kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)
