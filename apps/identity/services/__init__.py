"""identity's writes, split by topic: accounts, passwords, sessions, signing keys."""
