"""tracking's pure domain logic: no Django, no database (tested alone)."""
