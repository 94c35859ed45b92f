"""Split mode: contract calls between services over HTTP.

- `server`: every contract this process provides, served at /internal/<context>/<call>.
- `transport`: the client side, with deadlines, retries of idempotent calls and breakers.
- `service_tokens`: who may call whom (short-lived EdDSA tokens, audience = the callee).
- `breakers`: one circuit breaker per target context.

Code in a context never imports this: `cleave.contracts.client()` picks the transport.
"""
