"""Private entries' text out of readable storage (calendars.privacy): snapshots sealed, the
appointments and the sync log of private imported entries blanked."""

import re

from django.db import migrations

import integrations.fields

PRIVATE_CLASS = re.compile(r"^CLASS:(PRIVATE|CONFIDENTIAL)\s*$", re.IGNORECASE | re.MULTILINE)
TEXT_KEYS = ("subject", "body", "location")


def _mask(values):
    if not isinstance(values, dict):
        return values
    masked = {key: ("(private)" if key in TEXT_KEYS and value else value) for key, value in values.items()}
    if isinstance(masked.get("overrides"), list):
        masked["overrides"] = [_mask(o) for o in masked["overrides"]]
    return masked


def forwards(apps, schema_editor):
    Appointment = apps.get_model("calendars", "Appointment")
    SyncLink = apps.get_model("integrations", "SyncLink")
    SyncLogEntry = apps.get_model("integrations", "SyncLogEntry")
    Appointment.objects.filter(source="external", private=True).update(
        subject="", note="", location="", other_attendees=[], busy=True
    )
    private_links = []
    for link in SyncLink.objects.only("pk", "snapshot", "appointment").iterator(chunk_size=500):
        snapshot = link.snapshot if isinstance(link.snapshot, dict) else {}
        raw = snapshot.get("remote_raw")
        if isinstance(raw, str) and PRIVATE_CLASS.search(raw) and not integrations.fields.is_private_snapshot(snapshot):
            # Kept before occurrences had a private flag: sealed whole; the next pull rewrites it.
            snapshot = {**snapshot, integrations.fields.PRIVATE_RAW_KEY: True}
        if integrations.fields.is_private_snapshot(snapshot):
            SyncLink.objects.filter(pk=link.pk).update(snapshot=snapshot)  # the field seals it
            private_links.append(link.pk)
    private_links += list(
        SyncLink.objects.filter(appointment__source="external", appointment__private=True).values_list("pk", flat=True)
    )
    for entry in SyncLogEntry.objects.filter(link_id__in=set(private_links)).only("pk", "overwritten"):
        SyncLogEntry.objects.filter(pk=entry.pk).update(subject="(private)", overwritten=_mask(entry.overwritten))


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0010_pull_backoff_and_lag"),
        ("calendars", "0002_appointment_days_and_future_exceptions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="synclink",
            name="snapshot",
            field=integrations.fields.SealedSnapshotField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
