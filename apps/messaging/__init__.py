"""Messaging: direct and group conversations, messages with a per-conversation seq."""
