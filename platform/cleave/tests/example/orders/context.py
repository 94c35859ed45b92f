"""The kernel's example context `orders` declares itself (test settings only)."""

from cleave.contexts import Context

# An example role: it becomes a group wherever the edge is hosted (cleave.declarations).
CONTEXT = Context(label="orders", app="cleave.tests.example.orders", roles=("order_auditor",))
