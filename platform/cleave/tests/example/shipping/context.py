"""The kernel's example context `shipping` declares itself (test settings only)."""

from cleave.contexts import Context

CONTEXT = Context(label="shipping", app="cleave.tests.example.shipping")
