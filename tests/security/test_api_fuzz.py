"""Schemathesis over the whole public OpenAPI, in process: no input may produce a server error,
and every error answers in the one envelope. (The long version is the security issue's; this
bounded one runs on every CI run.)"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from cleave.auth.testing import token_signer
from cleave.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture(scope="module")
def bearer() -> Any:
    with token_signer() as sign:
        yield f"Bearer {sign(user_id=1, roles=('user', 'moderator'))}"


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db(transaction=True)
def test_no_generated_request_is_a_server_error(case: Any, bearer: str) -> None:
    for headers in ({}, {"Authorization": bearer}):
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.text[:500])
        # A documented status must carry the documented body.
        case.validate_response(response, checks=[response_schema_conformance])
        if response.status_code >= 400 and response.content:
            body = response.json()
            assert set(body) == {"error"}, body
            assert {"code", "message", "details"} <= set(body["error"]), body
            # A documented error status names its codes (cleave.openapi.errors): no other.
            documented = case.operation.definition.raw["responses"].get(str(response.status_code))
            if documented is not None:
                assert body["error"]["code"] in documented["x-error-codes"], (
                    case.method,
                    case.path,
                    response.status_code,
                    body,
                )
