"""identity's mobile API: /api/v1/auth, /me, /sessions, /devices, /users, /blocks."""

from __future__ import annotations

from ninja import Router

from apps.identity.api import auth, blocks, me, sessions, users

router = Router(tags=["identity"])
router.add_router("/auth", auth.router)
router.add_router("/me", me.router)
router.add_router("/", sessions.router)
router.add_router("/users", users.router)
router.add_router("/", blocks.router)
