"""Cleave's bounded contexts: one Django app each, talking only through `contracts/` and events."""

# A context may live in any `apps/` (and its contract in any `contracts/`) on the path, not only
# this repository's: discovery (cleave.contexts) and the contract snapshot walk them all.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
