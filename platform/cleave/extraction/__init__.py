"""Extraction tooling: from the monolith to one service per context, and back.

- `cleave.extraction.gateway`: who owns each public path (read from the URL configuration) and
  the nginx configuration that routes a split topology;
- `cleave.extraction.deploy`: the deployment bundle of one extracted context (`manage.py
  extract`): env file, Procfile, Dockerfile, gateway snippet, data plan;
- `cleave.extraction.kubernetes`: that bundle's k8s/ manifests;
- `cleave.extraction.data`: moving one context's rows between databases with a verified
  manifest (`manage.py context_data export|import|verify`).

Submodules are imported on demand: they need a configured Django, this package does not.
See docs/extraction.md for the team's step-by-step.
"""
