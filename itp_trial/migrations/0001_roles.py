"""Create the four roles with their permissions (roles.py says which)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from itp_trial.roles import permissions_create_all, roles_sync

    permissions_create_all(using=schema_editor.connection.alias)
    roles_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("subjects", "0001_initial"),
        ("visits", "0001_initial"),
        ("infusions", "0001_initial"),
        ("safety", "0001_initial"),
        ("exchange", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
