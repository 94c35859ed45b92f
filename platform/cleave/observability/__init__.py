"""Observability: Prometheus metrics (`metrics`, `/metrics`), OpenTelemetry tracing
(`tracing`), and trace ids on every log line."""
