"""The tracking context."""
