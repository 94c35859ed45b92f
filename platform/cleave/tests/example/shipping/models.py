from django.db import models


class Shipment(models.Model):
    """One row per applied OrderPlaced: counting rows counts effects."""

    order_id = models.IntegerField()  # orders' id, a plain field: never a ForeignKey
    total = models.IntegerField()
    note = models.CharField(max_length=100, blank=True)
    # For latency measurements (bench/events): when the order was placed, when this applied.
    placed_at = models.DateTimeField(null=True)
    applied_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"shipment of order {self.order_id}"


class Outage(models.Model):
    """While a row exists for a note, the subscriber fails transiently on orders with that note."""

    note = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return f"outage for {self.note!r}"


class Invoice(models.Model):
    """One row per applied OrderPaid, written in bulk by a batch subscriber."""

    order_id = models.IntegerField()
    total = models.IntegerField()
    placed_at = models.DateTimeField()
    applied_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"invoice of order {self.order_id}"
