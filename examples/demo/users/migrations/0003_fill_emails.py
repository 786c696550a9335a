"""Data migration: give every user without an email a placeholder address."""
from django.db import migrations


def fill_emails(apps, schema_editor):
    # The database being migrated, not always `default` (multi-database projects, fleets).
    db = schema_editor.connection.alias
    User = apps.get_model("users", "User")
    for user in User.objects.using(db).filter(email=""):
        user.email = f"{user.username}@example.invalid"
        user.save(update_fields=["email"], using=db)


def clear_placeholders(apps, schema_editor):
    User = apps.get_model("users", "User")
    User.objects.using(schema_editor.connection.alias).filter(
        email__endswith="@example.invalid"
    ).update(email="")


class Migration(migrations.Migration):
    dependencies = [("users", "0002_user_email_user_joined")]

    operations = [migrations.RunPython(fill_emails, clear_placeholders)]
