"""What every request crosses before it reaches a context: ids, errors, (later) auth and limits."""
