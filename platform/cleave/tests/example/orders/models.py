from django.db import models


class Order(models.Model):
    total = models.IntegerField()
    note = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"order {self.pk}: {self.total}"


class CustomerLedger(models.Model):
    """A read model fed by the event store's test projection (cleave.tests.test_eventstore_*):
    orders and their total per customer, from `orders.OrderPlaced` events."""

    customer = models.CharField(max_length=100, unique=True)
    orders = models.IntegerField(default=0)
    total = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.customer}: {self.orders} orders, {self.total}"
