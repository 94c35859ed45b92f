"""Cleave's bounded contexts: one Django app each, talking only through `contracts/` and events."""
