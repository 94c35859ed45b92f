"""Tokens of sockets that reconnect together are checked together, with the same answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.identity.services.sessions import session_revoke
from cleave.auth.errors import SessionRevoked, TokenInvalid
from cleave.auth.principal import Principal
from cleave.auth.tokens import verify_access_token, verify_access_tokens

pytestmark = pytest.mark.django_db(transaction=True)  # revocation takes effect after commit


def test_a_batch_refuses_exactly_the_tokens_one_by_one_checks_would_refuse(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tokens.json"
    call_command("users_seed", count=3, prefix="batch", tokens_out=out)
    live, revoked, other = json.loads(out.read_text())
    session_revoke(user_id=revoked["user_id"], session_id=revoked["session_id"])
    tokens = [live["access"], revoked["access"], "not-a-token", other["access"]]

    checked = verify_access_tokens(tokens)

    assert [type(result) for result in checked] == [
        Principal, SessionRevoked, TokenInvalid, Principal,
    ]  # fmt: skip
    assert [r.user_id for r in checked if isinstance(r, Principal)] == [
        live["user_id"], other["user_id"],
    ]  # fmt: skip
    for token, result in zip(tokens, checked, strict=True):
        if isinstance(result, Principal):
            assert verify_access_token(token) == result
        else:
            with pytest.raises(type(result)):
                verify_access_token(token)
