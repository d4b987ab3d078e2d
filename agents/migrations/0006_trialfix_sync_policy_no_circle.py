"""A technician's sync policy is Never / Always / Ask (SPEC S3.3): "Use the global setting" goes.
It acted as Always (calendars.selectors.effective_sync_policy), so it becomes Always."""

from django.db import migrations, models


def global_to_always(apps, schema_editor):
    apps.get_model("agents", "Agent").objects.filter(sync_policy="global").update(sync_policy="always")


class Migration(migrations.Migration):
    dependencies = [("agents", "0005_api2_team_membership")]

    operations = [
        migrations.RunPython(global_to_always, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="agent",
            name="sync_policy",
            field=models.CharField(
                choices=[("never", "Never"), ("always", "Always"), ("ask", "Ask")], default="always", max_length=10
            ),
        ),
    ]
