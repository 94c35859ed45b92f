"""Settings for the test suite: Cleave's own, plus the kernel's two example contexts."""

from cleave import config

config.EXTRA_CONTEXT_APPS[:] = ["cleave.tests.example.orders", "cleave.tests.example.shipping"]

from cleave.settings import *  # noqa: E402, F403 - the real settings, with the examples known

# Hashing at production cost (Argon2id, 19 MiB) would dominate the suite's run time; the
# production hasher has its own test (apps/identity/tests/test_passwords.py).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Fixed encryption-at-rest keys, so real-mode runs need no extra environment (tests that are
# about keys override these).
CLEAVE_ENCRYPTION_KEYS = "test:HjGnMGwM7hvGXxwi0hVAfg9EjI8eFsPAVGf-TcAfoWw"  # 32 bytes
CLEAVE_HASH_KEY = "LNYniGScq6s2vS0Cq5REefFUlVboEiX4fatArNM4sPg"

# E-mail verification is on by default in real mode, and CI runs this suite in real mode too.
# Pinned off here for the many tests that are not about it (they create accounts with the
# factories and chat at once); every test about verification turns it on itself
# (tests/security/test_email_verification.py, apps/messaging/tests/test_email_verification.py).
# Servers that tests start run the real settings: those tests verify their accounts.
CLEAVE_REQUIRE_EMAIL_VERIFICATION = False
