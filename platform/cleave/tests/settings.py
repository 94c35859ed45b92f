"""Settings for the test suite: Cleave's own, plus the kernel's two example contexts."""

from cleave import config

config.EXTRA_CONTEXT_APPS[:] = ["cleave.tests.example.orders", "cleave.tests.example.shipping"]

from cleave.settings import *  # noqa: E402, F403 - the real settings, with the examples known

# Hashing at production cost (Argon2id, 19 MiB) would dominate the suite's run time; the
# production hasher has its own test (apps/identity/tests/test_passwords.py).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
