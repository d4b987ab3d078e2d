"""A sync link's snapshot, sealed at rest when it holds a private entry's text.

The snapshot (what was last synced on each side, and the remote's raw form) is what a
merge-update needs: the external entry's own text, which the helpdesk sends back untouched. For an
entry the external calendar marks private (calendars.privacy) that text must not be readable in
the database: the whole snapshot is stored as `{"sealed": <Fernet token>}` (integrations.crypto,
the key that guards the connections' secrets) and opened again when read. Snapshots of public
entries stay plain JSON.
"""

from __future__ import annotations

import json

from django.db import models

from integrations import crypto

SEALED_KEY = "sealed"
# Set by the data migration on snapshots kept before occurrences had a private flag, whose raw
# iCalendar marks some part private: sealed whole until the next pull rewrites them.
PRIVATE_RAW_KEY = "private_raw"


def is_private_snapshot(value: object) -> bool:
    """Whether a snapshot (`{"local": data, "remote": data, "remote_raw": text}`) holds an entry
    that is private anywhere: the series or one occurrence, on either side."""
    if not isinstance(value, dict):
        return False
    if value.get(PRIVATE_RAW_KEY):
        return True
    for side in ("local", "remote"):
        data = value.get(side)
        if isinstance(data, dict) and (
            data.get("private") or any(isinstance(o, dict) and o.get("private") for o in data.get("overrides") or [])
        ):
            return True
    return False


def seal(value: dict) -> dict:
    """The snapshot as stored: sealed when private, else as given."""
    if not is_private_snapshot(value):
        return value
    return {SEALED_KEY: crypto.encrypt(json.dumps(value, separators=(",", ":")))}


def unseal(value: object) -> object:
    """The snapshot as the engine reads it. One sealed with another key (CREDENTIALS_KEY changed)
    reads as empty: the next sync then compares both sides afresh, as for a new link."""
    if isinstance(value, dict) and set(value) == {SEALED_KEY}:
        try:
            return json.loads(crypto.decrypt(value[SEALED_KEY]))
        except crypto.SecretUnreadable:
            return {}
    return value


class SealedSnapshotField(models.JSONField):
    """A JSONField whose value is sealed (`seal`) on the way into the database and opened
    (`unseal`) on the way out; Python code only ever sees the plain snapshot."""

    def get_prep_value(self, value):
        return super().get_prep_value(seal(value) if isinstance(value, dict) else value)

    def from_db_value(self, value, expression, connection):
        return unseal(super().from_db_value(value, expression, connection))
