from django.db import models


class Order(models.Model):
    total = models.IntegerField()
    note = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"order {self.pk}: {self.total}"
