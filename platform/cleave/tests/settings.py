"""Settings for the test suite: Cleave's own, plus the kernel's two example contexts."""

from kombu import Queue

from cleave.settings import *  # noqa: F403 - the real settings, extended below
from cleave.settings import CLEAVE_CONTEXTS, INSTALLED_APPS

_EXAMPLES = ["cleave.tests.example.orders", "cleave.tests.example.shipping"]
CLEAVE_CONTEXTS = [*CLEAVE_CONTEXTS, *_EXAMPLES]
INSTALLED_APPS = [*INSTALLED_APPS, *_EXAMPLES]
CELERY_TASK_QUEUES = [
    Queue("celery"),
    *(Queue(f"events.{path.rsplit('.', 1)[1]}") for path in CLEAVE_CONTEXTS),
]
