from django.db import migrations


def create_head(apps, schema_editor):
    # The row every trail append locks; created here so the first two concurrent appends do not race
    # to create it.
    apps.get_model("audits", "TrailHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial")]

    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
