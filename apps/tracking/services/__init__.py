"""tracking's writes: each owns its transaction and appends or publishes inside it."""
