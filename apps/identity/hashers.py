"""Argon2id with bounded cost: Django's default asks 100 MiB and 8 lanes per hash.

OWASP's minimum for Argon2id (19 MiB, 2 iterations, 1 lane) keeps a login burst from
exhausting memory on small machines; login throughput with these parameters is in
docs/benchmarks.md. Hashes made with other parameters still verify and are upgraded on login.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    algorithm = "argon2"  # the same encoded format: existing argon2 hashes verify unchanged
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
