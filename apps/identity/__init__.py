"""Identity: accounts, devices and sessions."""
