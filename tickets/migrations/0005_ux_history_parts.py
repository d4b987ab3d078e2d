from django.db import migrations, models


class Migration(migrations.Migration):
    # A history line keeps its instants (trial F-HIST-TZ); a line written before has no parts and
    # reads as its text.

    dependencies = [
        ('tickets', '0004_shared_request_history'),
    ]

    operations = [
        migrations.AlterField(
            model_name='historyline',
            name='text',
            field=models.CharField(help_text="As written, on the writer's clock (the admin, old lines).", max_length=500),
        ),
        migrations.AddField(
            model_name='historyline',
            name='parts',
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='The sentence as text parts and instants ({"at": ISO 8601 UTC}), written on each reader\'s clock.',
            ),
        ),
    ]
