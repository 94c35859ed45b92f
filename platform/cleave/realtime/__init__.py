"""Cleave's WebSocket gateway (grown into the full realtime gateway by the messaging issue)."""
