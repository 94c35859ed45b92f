"""identity's admin: users (profile, roles, suspension, passwords, deletion) in `users`;
devices, sessions, signing keys and blocks in `access`; permission groups in `roles`. Every
write calls identity's services, so it publishes the same events as the API (issue 18)."""

from apps.identity.admin import access, roles, users

__all__ = ["access", "roles", "users"]
