from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0021_pushrace_link_changes'),
    ]

    operations = [
        migrations.AddField(
            model_name='agentcalendar',
            name='moved_from',
            field=models.CharField(
                blank=True, editable=False, max_length=1100, verbose_name='first listing after a move from'
            ),
        ),
    ]
