"""Test helpers shared by every context, by topic: `processes` (ports, environments, keys,
waiting), `servers` (the real entry points in subprocesses), `workers` (a real Celery worker),
`state` (what a test must clear)."""
