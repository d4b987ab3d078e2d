"""What the database holds, read as stored (not through the models' fields), for privacy tests."""

from django.db import connection

from calendars.models import Appointment, Schedule
from integrations.models import SyncLink, SyncLogEntry

# Every column that may hold an entry's text: appointments, the sync log, the links' snapshots.
TEXT_COLUMNS = (
    (Appointment, ("subject", "note", "location", "other_attendees")),
    (Schedule, ("future_exceptions",)),
    (SyncLogEntry, ("subject", "message", "overwritten")),
    (SyncLink, ("snapshot", "last_error")),
)


def stored_rows() -> dict[str, list[tuple]]:
    """{table: rows} of every text column, as the database holds them."""
    rows = {}
    with connection.cursor() as cursor:
        for model, columns in TEXT_COLUMNS:
            table = model._meta.db_table
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
            rows[table] = cursor.fetchall()
    return rows


def tables_holding(*texts: str) -> list[str]:
    """The tables where any of the texts is stored readable (case-insensitive)."""
    wanted = [text.lower() for text in texts]
    return [table for table, rows in stored_rows().items() if any(t in repr(rows).lower() for t in wanted)]
