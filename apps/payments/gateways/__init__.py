"""Payment providers seen from payments' services: Stripe's PaymentIntents API through the
official `stripe` client (`stripe_gateway`), and the simulator of that API (`simulator`) that
the test provider runs in process (embedded mode) and the fake server serves over HTTP (tests,
benchmarks). Free of Django, so the fake server runs as a plain process.
"""
