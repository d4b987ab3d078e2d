"""Policy Ask used to ask again about every change of an appointment already on the technician's
calendar, holding the change meanwhile, and "Decline" then left the old copy there for good
(trial report F3). Links in that state (waiting or declined, with a copy out there) are marked for
a push, so the next sync brings the copy in step, as changes of an approved entry are now."""

from django.db import migrations
from django.db.models import Q


def bring_stale_copies_in_step(apps, schema_editor):
    SyncLink = apps.get_model("integrations", "SyncLink")
    with_copy = ~Q(local_hash="") | ~Q(remote_hash="")
    SyncLink.objects.filter(with_copy, approval__in=["waiting", "declined"]).update(approval="", pending=True)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0014_imp4_covered_index")]

    operations = [migrations.RunPython(bring_stale_copies_in_step, migrations.RunPython.noop)]
