"""What each context publishes: pydantic models, service Protocols, typed errors, events."""
