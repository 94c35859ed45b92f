"""recommendations's services: read models from events (`signals`), the ranking (`ranking`), the
layered cache and its fallback (`cache`, `serving`), and experiments (`experiments`)."""
