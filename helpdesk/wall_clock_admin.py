"""Times of day in admin that are wall-clock times (working hours: each technician's own clock).

Django's admin time widget adds a "Now" link and, when the browser's clock differs from the
server's, "Note: You are N hours behind server time." Both speak of the server's clock, which
says nothing about a technician's working hours in their own zone (trial fault 9)."""

from django import forms
from django.db import models


class WallClockTimesInAdmin:
    """ModelAdmin / inline mix-in: every TimeField is a plain time input (HH:MM), without the
    admin's server-time note and "Now" link."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.TimeField):
            kwargs["widget"] = forms.TimeInput(format="%H:%M", attrs={"type": "time"})
            return db_field.formfield(**kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)
