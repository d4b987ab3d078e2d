"""Keep only a hash of each feed token: links already handed out keep working."""

import hashlib

from django.db import migrations


def hash_tokens(apps, schema_editor):
    Agent = apps.get_model("agents", "Agent")
    for agent in Agent.objects.exclude(feed_token__startswith="!"):
        agent.feed_token = hashlib.sha256(agent.feed_token.encode()).hexdigest()
        agent.save(update_fields=["feed_token"])


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial")]

    operations = [migrations.RunPython(hash_tokens, migrations.RunPython.noop)]
