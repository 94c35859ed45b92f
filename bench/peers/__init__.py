"""Other backends driven by bench/load on the same scenario (`--peer`)."""
