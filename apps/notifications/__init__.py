"""Notifications: an in-app inbox and pushes to devices, learned from other contexts' events."""
