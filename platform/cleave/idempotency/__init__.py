"""`Idempotency-Key` on the unsafe endpoints of /api/v1 (cleave.idempotency.middleware)."""
