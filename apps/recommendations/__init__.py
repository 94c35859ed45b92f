"""The recommendations context."""
