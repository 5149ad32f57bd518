from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):

    dependencies = [
        ('facilities', '0002_followup_trigger_states'),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='tnsreport', name='one_live_tns_report_per_target'),
        migrations.AddField(
            model_name='tnsreport',
            name='not_before',
            field=models.DateTimeField(blank=True, help_text="queued: when TNS's rate limit resets", null=True),
        ),
        migrations.AlterField(
            model_name='tnsreport',
            name='status',
            field=models.CharField(choices=[
                ('draft', 'draft'), ('dry_run', 'dry run (not sent)'),
                ('queued', "queued: waiting for TNS's rate limit"), ('sending', 'sending'),
                ('sent', "sent, awaiting TNS's reply"), ('outcome_unknown', 'upload failed; TNS may have it'),
                ('accepted', 'accepted'), ('rejected', 'rejected'),
                ('already_on_tns', 'already on TNS; not sent'), ('failed', 'not sent, or refused by TNS'),
                ('not_received', 'upload never reached TNS (searched); may be sent again'),
            ], default='draft', max_length=20),
        ),
        migrations.AddConstraint(
            model_name='tnsreport',
            constraint=models.UniqueConstraint(
                condition=Q(status__in=['queued', 'sending', 'sent', 'outcome_unknown', 'accepted']),
                fields=('target',), name='one_live_tns_report_per_target'),
        ),
    ]
