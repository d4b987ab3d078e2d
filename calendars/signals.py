"""Signals the calendar services send after they change an appointment.

Receivers (sync, e-mail) do their outbound work in `transaction.on_commit`, never inline.
Every signal is sent inside the service's transaction with these arguments:
`appointment`, `change` (one of Change), `agent_ids_before` (a frozenset of the agent ids the
appointment was on before the change; empty for a new one) and `by` (a user or None).
For Change.DELETED the appointment still exists when the signal is sent.
A change that follows from another one rather than being asked for itself (the later parts of
work booked in parts, removed with their request's plan) also carries `follows=True`: every
calendar must hear of it, the external calendar whose pulled change caused it too.
The new series a "this and following" split makes also carries `split_from` (the old series'
master id): its external entries start from the old ones, keeping what the helpdesk does not model.
"""

from django.db import models
from django.dispatch import Signal


class Change(models.TextChoices):
    CREATED = "created", "created"
    UPDATED = "updated", "updated"
    MOVED = "moved", "moved"
    CANCELLED = "cancelled", "cancelled"
    DELETED = "deleted", "deleted"


appointment_changed = Signal()
