"""What a chat app on Parse Server sets up, with the master key (this module only):

- classes with class-level permissions: Conversation and ReadMark readable by signed-in users,
  written by the master key only (ReadMark: updated by its owner too); Message readable and
  creatable by signed-in users, never updated or deleted by them; no client creates classes
  (`allowClientClassCreation: false` in server.js). Rows are then filtered by their ACL.
- an index for the scenario's hot query, Message by conversation, newest first — what a team
  would add once the table grows (Cleave's messages have theirs).
- `size` users signed up from their own loopback addresses (the signup's session is the
  socket's), in pairs; each pair a Conversation whose ACL holds its two members, and one
  ReadMark per member readable and writable by that member only.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx

from bench.load.scenario import PASSWORD, address_of, http_client
from bench.peers.parse.client import ParseAccount, ParseDriver, acl_of, raise_for

SETUP_CONCURRENCY = 4  # each signup costs a bcrypt hash on the server
SETUP_ADDRESS = "127.0.0.1"  # the master key is accepted from here only (server.js)
SIGNED_IN = {"requiresAuthentication": True}
MASTER_ONLY: dict[str, bool] = {}
SCHEMAS = {
    "Conversation": {
        "fields": {"members": {"type": "Array"}, "title": {"type": "String"}},
        "classLevelPermissions": {
            "find": SIGNED_IN,
            "get": SIGNED_IN,
            "count": MASTER_ONLY,
            "create": MASTER_ONLY,
            "update": MASTER_ONLY,
            "delete": MASTER_ONLY,
            "addField": MASTER_ONLY,
        },
    },
    "Message": {
        "fields": {
            "conversation": {"type": "String"},
            "sender": {"type": "String"},
            "text": {"type": "String"},
            "clientMsgId": {"type": "String"},
        },
        "classLevelPermissions": {
            "find": SIGNED_IN,
            "get": SIGNED_IN,
            "count": MASTER_ONLY,
            "create": SIGNED_IN,
            "update": MASTER_ONLY,
            "delete": MASTER_ONLY,
            "addField": MASTER_ONLY,
        },
    },
    "ReadMark": {
        "fields": {
            "user": {"type": "String"},
            "conversation": {"type": "String"},
            "lastMessage": {"type": "String"},
            "readAt": {"type": "Date"},
        },
        "classLevelPermissions": {
            "find": SIGNED_IN,
            "get": SIGNED_IN,
            "count": MASTER_ONLY,
            "create": MASTER_ONLY,
            "update": SIGNED_IN,
            "delete": MASTER_ONLY,
            "addField": MASTER_ONLY,
        },
    },
}
# Plain SQL on Parse's table (its schema API takes no sort order), as a team's migration would.
INDEXES = (
    'CREATE INDEX IF NOT EXISTS message_conversation_created ON "Message"'
    ' ("conversation", "createdAt" DESC)',
)


async def create_pool(driver: ParseDriver, base_url: str, size: int) -> list[ParseAccount]:
    if size % 2:
        raise ValueError("accounts come in pairs: the pool size must be even")
    master = {**driver.headers(), "X-Parse-Master-Key": driver.master_key}
    async with http_client(base_url, SETUP_ADDRESS) as http:
        http.headers.update(master)
        for name, schema in SCHEMAS.items():
            raise_for(await http.post(f"/parse/schemas/{name}", json={"className": name, **schema}))
        _indexes()
        run, gate = uuid.uuid4().hex[:8], asyncio.Semaphore(SETUP_CONCURRENCY)
        accounts = await asyncio.gather(
            *(_sign_up(driver, base_url, run, n, gate) for n in range(size))
        )
        await asyncio.gather(
            *(_pair(http, accounts[n], accounts[n + 1], gate) for n in range(0, size, 2))
        )
    return list(accounts)


def _indexes() -> None:
    import psycopg

    from bench.peers.parse.target import settings

    database, _ = settings()
    with psycopg.connect(f"postgres://postgres@127.0.0.1:5432/{database}", autocommit=True) as db:
        for statement in INDEXES:
            db.execute(statement)  # type: ignore[arg-type]


async def _sign_up(
    driver: ParseDriver, base_url: str, run: str, index: int, gate: asyncio.Semaphore
) -> ParseAccount:
    address = address_of(index)
    body = {"username": f"load-{run}-{index}", "password": PASSWORD}
    async with gate, http_client(base_url, address) as http:
        user = raise_for(await http.post("/parse/users", json=body, headers=driver.headers()))
    return ParseAccount(
        index=index,
        user_id=user["objectId"],
        username=body["username"],
        address=address,
        socket_session=user["sessionToken"],
    )


async def _pair(
    http: httpx.AsyncClient, first: ParseAccount, second: ParseAccount, gate: asyncio.Semaphore
) -> None:
    """Their Conversation (members and ACL: the two) and a ReadMark for each."""
    members = [first.user_id, second.user_id]
    async with gate:
        body = {"members": members, "title": "", "ACL": acl_of(*members)}
        conversation = raise_for(await http.post("/parse/classes/Conversation", json=body))
        for account in (first, second):
            mark = {
                "user": account.user_id,
                "conversation": conversation["objectId"],
                "lastMessage": "",
                "ACL": acl_of(account.user_id, write=True),
            }
            account.read_mark_id = raise_for(await http.post("/parse/classes/ReadMark", json=mark))[
                "objectId"
            ]
    first.partner_id, second.partner_id = second.user_id, first.user_id
    first.conversation_id = second.conversation_id = conversation["objectId"]
