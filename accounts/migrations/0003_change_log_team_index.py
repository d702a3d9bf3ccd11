"""An index for a team's change log: django-auditlog's entries filtered on additional_data -> 'team'
(accounts/history.py). PostgreSQL only; other databases read the log without it."""

from django.db import migrations

INDEX = "auditlog_logentry_team"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON auditlog_logentry ((additional_data -> 'team'), timestamp)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_invitations_and_sessions"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(create, drop)]
