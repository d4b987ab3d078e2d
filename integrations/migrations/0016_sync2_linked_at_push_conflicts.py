"""Agent calendars: when each was linked (a never-pulled calendar's lag counts from it), and the
conflicts pushes resolved since the last pull (counted in the pull's summary)."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import Min


def linked_at_from_history(apps, schema_editor):
    """A calendar linked before this migration: its earliest trace (a sync link made, a log
    entry, a pull), else the migration's time, which the field's default already gave."""
    AgentCalendar = apps.get_model("integrations", "AgentCalendar")
    SyncLink = apps.get_model("integrations", "SyncLink")
    SyncLogEntry = apps.get_model("integrations", "SyncLogEntry")
    first_link = dict(
        SyncLink.objects.values("agent_calendar_id").annotate(first=Min("created_at")).values_list(
            "agent_calendar_id", "first"
        )
    )
    first_log = dict(
        SyncLogEntry.objects.values("agent_calendar_id").annotate(first=Min("created_at")).values_list(
            "agent_calendar_id", "first"
        )
    )
    for pk, linked_at, last_pull_at in AgentCalendar.objects.values_list("pk", "linked_at", "last_pull_at"):
        traces = [t for t in (first_link.get(pk), first_log.get(pk), last_pull_at) if t is not None]
        earliest = min(traces, default=linked_at)
        if earliest < linked_at:
            AgentCalendar.objects.filter(pk=pk).update(linked_at=earliest)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0015_ask_stale_copies"),
    ]

    operations = [
        migrations.AddField(
            model_name="agentcalendar",
            name="linked_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="linked"),
        ),
        migrations.AddField(
            model_name="agentcalendar",
            name="push_conflicts",
            field=models.PositiveIntegerField(
                default=0, editable=False, verbose_name="conflicts resolved by pushes since the last pull"
            ),
        ),
        migrations.RunPython(linked_at_from_history, migrations.RunPython.noop),
    ]
