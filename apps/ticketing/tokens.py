"""Ticket tokens: what a ticket's QR code holds, verifiable offline with the show's public key.

    token = base64url(payload ‖ Ed25519 signature)          (no padding; 124 characters)
    payload = version (1 byte) ‖ show id (8, big-endian) ‖ ticket id (16, UUID bytes)
              ‖ category id (4, big-endian)

A ticket with a numbered seat carries it (version 2), so a scanner shows the usher where to
send the holder without a network:

    payload = version 2 (1 byte) ‖ show id (8) ‖ ticket id (16) ‖ category id (4)
              ‖ row length (1) ‖ row label (UTF-8) ‖ seat number (2, big-endian)

A general-admission ticket keeps version 1, byte for byte (its token never changes).

29 + 64 bytes (version 2: 32 + the row's bytes + 64, ~140 characters): small enough for a QR
code a phone's camera reads from a cracked screen (version 7 at level M in byte mode; version 8
with a seat), and nothing a scanner needs a network for: the scanner holds the show's public key
(GET /api/v1/ticketing/shows/{id}/scanner-keys), checks the signature and the show id, and
uploads its scans when it can. A token says nothing about
whether the ticket was voided or used: a scanner that is online asks the server (check-ins).
"""

from __future__ import annotations

import base64
import struct
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 1
VERSION_SEATED = 2
_PAYLOAD = struct.Struct(">BQ16sI")
_SEAT_NUMBER = struct.Struct(">H")
_SIGNATURE_BYTES = 64
ALGORITHM = "Ed25519"


class TokenInvalid(ValueError):
    """Not a ticket token, or not signed by the key it was checked with."""


@dataclass(frozen=True)
class TicketClaims:
    show_id: int
    ticket_id: uuid.UUID
    category_id: int
    seat_row: str | None = None
    seat_number: int | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise TokenInvalid("not base64url") from exc


def key_pair_new() -> tuple[str, str]:
    """A new (public, private) pair, each raw 32 bytes as base64url."""
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return _b64(raw_public), _b64(raw_private)


def _payload(claims: TicketClaims) -> bytes:
    if claims.seat_row is None or claims.seat_number is None:
        return _PAYLOAD.pack(VERSION, claims.show_id, claims.ticket_id.bytes, claims.category_id)
    row = claims.seat_row.encode()
    head = _PAYLOAD.pack(VERSION_SEATED, claims.show_id, claims.ticket_id.bytes, claims.category_id)
    return head + bytes([len(row)]) + row + _SEAT_NUMBER.pack(claims.seat_number)


def _claims(payload: bytes) -> TicketClaims:
    """The claims of a payload (version 1, or 2 with a seat); TokenInvalid when malformed."""
    if len(payload) < _PAYLOAD.size:
        raise TokenInvalid("wrong length")
    version, show_id, ticket_bytes, category_id = _PAYLOAD.unpack(payload[: _PAYLOAD.size])
    claims = TicketClaims(
        show_id=show_id, ticket_id=uuid.UUID(bytes=ticket_bytes), category_id=category_id
    )
    rest = payload[_PAYLOAD.size :]
    if version == VERSION and not rest:
        return claims
    if version != VERSION_SEATED:
        raise TokenInvalid(f"unknown version {version}")
    if not rest or len(rest) != 1 + rest[0] + _SEAT_NUMBER.size:
        raise TokenInvalid("wrong length")
    try:
        row = rest[1 : 1 + rest[0]].decode()
    except UnicodeDecodeError as exc:
        raise TokenInvalid("bad seat row") from exc
    (number,) = _SEAT_NUMBER.unpack(rest[1 + rest[0] :])
    return TicketClaims(
        show_id=show_id,
        ticket_id=claims.ticket_id,
        category_id=category_id,
        seat_row=row,
        seat_number=number,
    )


def _split(token: str) -> tuple[bytes, bytes]:
    raw = _unb64(token.strip())
    if len(raw) < _PAYLOAD.size + _SIGNATURE_BYTES:
        raise TokenInvalid("wrong length")
    return raw[:-_SIGNATURE_BYTES], raw[-_SIGNATURE_BYTES:]


def token_sign(claims: TicketClaims, *, private_key: str) -> str:
    payload = _payload(claims)
    signer = Ed25519PrivateKey.from_private_bytes(_unb64(private_key))
    # Ed25519 is deterministic: the same ticket always gets the same token, so the server need
    # not store it and an app's cached copy never goes stale.
    return _b64(payload + signer.sign(payload))


def token_verify(token: str, *, public_key: str) -> TicketClaims:
    """The token's claims if `public_key` signed it; TokenInvalid otherwise."""
    payload, signature = _split(token)
    try:
        Ed25519PublicKey.from_public_bytes(_unb64(public_key)).verify(signature, payload)
    except InvalidSignature as exc:
        raise TokenInvalid("bad signature") from exc
    return _claims(payload)


def token_claims_unverified(token: str) -> TicketClaims:
    """The claims without checking the signature: only to find which show's key to check with."""
    payload, _ = _split(token)
    return _claims(payload)
