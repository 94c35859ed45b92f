"""Cleave's shared kernel: settings, servers, gateway concerns and (soon) contracts and events."""
