"""The kernel's example context `orders` declares itself (test settings only)."""

from cleave.contexts import Context

CONTEXT = Context(label="orders", app="cleave.tests.example.orders")
