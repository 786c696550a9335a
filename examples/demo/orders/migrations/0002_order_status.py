from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="order",
            name="status",
            field=models.CharField(
                choices=[("new", "New"), ("paid", "Paid"), ("shipped", "Shipped")], default="new", max_length=16
            ),
        ),
    ]
