"""messaging's writes: conversations and members, messages."""
