"""ticketing's writes: shows (catalogue), holds (the on-sale hot path), tickets, check-ins."""
