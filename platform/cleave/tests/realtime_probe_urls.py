"""URLconf of the remote realtime tests: the probe context's questions at /internal/_realtime/."""

from django.urls import path

from cleave.realtime.hosted import PREFIX, build_api
from cleave.tests.realtime_probe import PROBE

urlpatterns = [path(PREFIX, build_api([PROBE], namespace="probe-realtime").urls)]
