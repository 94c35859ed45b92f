"""Deploy tooling, kept out of the runtime package `cleave` (no runtime module imports it; an
import-linter contract says so): from the monolith to one service per context, and back.

- `cleave_deploy.split`: the split topology on one machine (`manage.py split start|stop`);
- `cleave_deploy.tls`: the self-signed certificate a local gateway serves;

- `cleave_deploy.gateway`: who owns each public path (read from the URL configuration) and
  the nginx configuration that routes a split topology;
- `cleave_deploy.bundle`: the deployment bundle of one extracted context (`manage.py
  extract`): env file, Procfile, Dockerfile, gateway snippet, data plan;
- `cleave_deploy.kubernetes`: that bundle's k8s/ manifests;
- `cleave_deploy.data`: moving one context's rows between databases with a verified
  manifest (`manage.py context_data export|import|verify`).
- `cleave_deploy.scaffold`: a new context's first files, declared and tested (`manage.py
  context_new <label>`, docs/adding-a-context.md).

Submodules are imported on demand: they need a configured Django, this package does not.
See docs/extraction.md for the team's step-by-step.
"""
