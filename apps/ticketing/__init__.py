"""The ticketing context."""
