"""The contexts' declarations hold: the checks that keep them true, and the roles they add."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from cleave import contexts
from cleave.contexts import Context, DeclarationError, Edge, Realtime, validate
from cleave.declarations import (
    ENCRYPTED_FIELDS_UNDECLARED,
    ROUTE_OUTSIDE_PREFIXES,
    STREAMS_UNDECLARED,
    encrypted_fields_mismatch,
    routes_outside_prefixes,
    served_paths,
    stream_families_mismatch,
    under,
)


def _declared(**changes: object) -> list[Context]:
    """The installed declarations, one of them changed: {label: {field: value}}."""
    return [
        dataclasses.replace(context, **changes.get(context.label, {}))  # type: ignore[arg-type]
        for context in contexts.installed()
    ]


def test_every_installed_context_serves_declares_and_registers_what_it_says() -> None:
    declared = contexts.installed()
    assert routes_outside_prefixes(declared, served_paths()) == []
    assert encrypted_fields_mismatch(declared) == []
    assert stream_families_mismatch(declared) == []


def test_a_route_outside_the_declared_prefixes_is_an_error() -> None:
    labels = [context.label for context in contexts.installed() if context.url_prefixes]
    label = labels[0]
    errors = routes_outside_prefixes(_declared(**{label: {"url_prefixes": ()}}), served_paths())
    assert errors
    assert {error.id for error in errors} == {ROUTE_OUTSIDE_PREFIXES}
    assert all(error.msg.startswith(f"{label} serves ") for error in errors)


def test_prefixes_match_whole_segments() -> None:
    assert under("/api/v1/me/password", ["/api/v1/me"])
    assert under("/api/v1/me", ["/api/v1/me/"])
    assert not under("/api/v1/meta", ["/api/v1/me"])


def test_an_encrypted_field_left_out_of_the_declaration_is_an_error() -> None:
    holder = next(c for c in contexts.installed() if c.encrypted_fields)
    errors = encrypted_fields_mismatch(_declared(**{holder.label: {"encrypted_fields": ()}}))
    assert [error.id for error in errors] == [ENCRYPTED_FIELDS_UNDECLARED]
    assert holder.encrypted_fields[0] in errors[0].msg


def test_a_registered_stream_family_must_be_declared_and_a_declared_one_registered() -> None:
    streaming = next(c for c in contexts.installed() if c.realtime)
    undeclared = stream_families_mismatch(_declared(**{streaming.label: {"realtime": None}}))
    phantom = Realtime(stream_families=(*streaming.realtime.stream_families, "phantom"))  # type: ignore[union-attr]
    unregistered = stream_families_mismatch(_declared(**{streaming.label: {"realtime": phantom}}))
    assert [error.id for error in undeclared] == [STREAMS_UNDECLARED]
    assert [error.id for error in unregistered] == [STREAMS_UNDECLARED]


@pytest.mark.django_db
def test_a_role_a_context_declares_is_a_group_after_migrate() -> None:
    # The example context `orders` (test settings) declares `order_auditor`.
    assert Group.objects.filter(name="order_auditor").exists()


def test_declarations_that_contradict_each_other_are_refused() -> None:
    edge = Context(label="a", app="x.a", edge=Edge(user_model="a.User"))
    with pytest.raises(DeclarationError, match="only one context may be the edge"):
        validate([edge, dataclasses.replace(edge, label="b", app="x.b")])
    with pytest.raises(DeclarationError, match="provided by two contexts"):
        validate([Context(label="a", app="x.a", provides=("b",)), Context(label="b", app="x.b")])
    with pytest.raises(DeclarationError, match="share a label"):
        validate([Context(label="a", app="x.a"), Context(label="a", app="y.a")])


def test_an_app_without_a_declaration_is_named() -> None:
    with pytest.raises(DeclarationError, match="has no context.py"):
        contexts.load("cleave.tests.example")


def test_contexts_list_prints_every_declaration_as_the_kernel_reads_it() -> None:
    out = io.StringIO()
    call_command("contexts", "list", "--json", stdout=out)
    listed = {entry["label"]: entry for entry in json.loads(out.getvalue())}
    assert set(listed) == {context.label for context in contexts.all_contexts()}
    assert [label for label, entry in listed.items() if entry["edge"]] == [contexts.edge().label]
    assert all(entry["hosted"] for entry in listed.values())
    assert {entry["events_queue"] for entry in listed.values()} == {
        f"events.{label}" for label in listed
    }
