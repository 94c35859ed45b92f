"""The flag drops waffle's relations into the user table and auth's groups (their contents
became `user_ids` and `roles` in 0003): the flag tables no longer need the user model's database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cleave", "0003_flag_targets_from_assignments"),
    ]

    operations = [
        migrations.RemoveField(model_name="flag", name="groups"),
        migrations.RemoveField(model_name="flag", name="users"),
    ]
