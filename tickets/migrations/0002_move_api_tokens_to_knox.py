"""Move API tokens from DRF's authtoken table (kept in clear) to django-rest-knox (hashed).

Tokens already handed to integrators keep working: knox finds a token by its first 15
characters and checks the SHA-512 of the whole, which is what is stored here. The old table
is dropped, so no token stays readable in the database.
"""

import hashlib

from django.db import migrations

OLD_TABLE = "authtoken_token"


def move_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {OLD_TABLE}")
        rows = cursor.fetchall()
    AuthToken.objects.bulk_create(
        AuthToken(digest=hashlib.sha512(key.encode()).hexdigest(), token_key=key[:15], user_id=user_id, expiry=None)
        for key, user_id in rows
    )
    schema_editor.execute(f"DROP TABLE {OLD_TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0001_initial"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(move_tokens, migrations.RunPython.noop)]
