"""What the notifications context publishes: its socket frames (`frames`); no calls or events."""
