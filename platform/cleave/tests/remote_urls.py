"""URLconf of the transport tests: the probe contract at /internal/."""

from django.urls import path

from cleave.remote.server import PREFIX
from cleave.tests.remote_probe import probe_api

urlpatterns = [path(PREFIX, probe_api.urls)]
