"""The users of one target, created once through the public API before any level runs.

Each account registers from its own loopback address (one registration per address, well
under identity's 10 an hour per IP) with a "socket" device, so registration hands back the
tokens of the session its socket will use. Where the target requires verified addresses (real
mode), its staff account vouches for every account through the ops API before the pairs open
their conversations — never by turning the requirement off. Accounts are paired (0–1, 2–3, …);
the even one of each pair opens their direct conversation.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from bench.load.scenario import PASSWORD, Account, address_of, device, http_client

SETUP_CONCURRENCY = 4  # each registration costs an Argon2id hash on the server
STAFF_ADDRESS = "127.2.0.1"  # apart from the accounts' own addresses (address_of)


async def create_pool(
    base_url: str, size: int, *, staff: tuple[str, str] | None = None
) -> list[Account]:
    """`size` (even) new accounts, each paired with a conversation to its partner; `staff`
    (email, password) vouches for their addresses first."""
    if size % 2:
        raise ValueError("accounts come in pairs: the pool size must be even")
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    accounts = await asyncio.gather(*(_register(base_url, run, n, gate) for n in range(size)))
    if staff is not None:
        await _vouch(base_url, staff, accounts)
    await asyncio.gather(
        *(_pair(base_url, accounts[n], accounts[n + 1], gate) for n in range(0, size, 2))
    )
    return list(accounts)


async def _register(base_url: str, run: str, index: int, gate: asyncio.Semaphore) -> Account:
    address = address_of(index)
    body = {
        "email": f"load-{run}-{index}@example.com",
        "password": PASSWORD,
        "display_name": f"Load {index}",
        "device": device(index, "socket"),
    }
    async with gate, http_client(base_url, address) as http:
        created = _json(await http.post("/api/v1/auth/register", json=body))
    return Account(
        index=index,
        user_id=int(created["user"]["id"]),
        email=body["email"],
        address=address,
        socket_refresh=created["tokens"]["refresh"],
    )


async def _vouch(base_url: str, staff: tuple[str, str], accounts: list[Account]) -> None:
    """Mark every account's address verified through the ops API, as the staff account."""
    email, password = staff
    async with http_client(base_url, STAFF_ADDRESS) as http:
        login = {"email": email, "password": password, "device": device(-1, "staff")}
        access = _json(await http.post("/api/v1/auth/login", json=login))["access"]
        headers = {"Authorization": f"Bearer {access}"}
        for account in accounts:
            path = f"/api/ops/users/{account.user_id}/verify-email/"
            _json(await http.post(path, headers=headers))


async def _pair(base_url: str, first: Account, second: Account, gate: asyncio.Semaphore) -> None:
    """Log the first in and open the direct conversation of the two."""
    async with gate, http_client(base_url, first.address) as http:
        login = {"email": first.email, "password": PASSWORD, "device": device(first.index, "app")}
        access = _json(await http.post("/api/v1/auth/login", json=login))["access"]
        conversation = _json(
            await http.post(
                "/api/v1/conversations",
                json={"kind": "direct", "members": [second.user_id]},
                headers={"Authorization": f"Bearer {access}"},
            )
        )
    first.partner_id, second.partner_id = second.user_id, first.user_id
    first.conversation_id = second.conversation_id = int(conversation["id"])


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise RuntimeError(
            f"setup: {response.request.method} {response.request.url} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    return dict(response.json())
