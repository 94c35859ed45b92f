"""Feature flags: Unleash-compatible evaluation, kept free of Django so it can be tested alone."""
