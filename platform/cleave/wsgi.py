"""The WSGI application: HTTP (REST, admin, ops) for the `web` process."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")

application = get_wsgi_application()
