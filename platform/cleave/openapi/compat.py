"""Compare two OpenAPI documents of one API version and say which differences break a client.

An app already in its users' hands was built against the recorded document; it cannot be
updated with the server. So within /api/v1:

    difference                                      kind
    path or operation removed                       breaking (additive if it was deprecated)
    path or operation added                         additive
    operation id changed                            breaking (generated SDKs name methods by it)
    parameter removed                               breaking
    parameter added: optional / required            additive / breaking
    parameter optional -> required                  breaking
    request body added as required / removed        breaking / breaking
    request body, parameter schema                  as an INPUT (cleave.contracts.schema_compat)
    success status removed / added                  breaking / additive
    success response schema                         as an OUTPUT read once: a new field is additive
    error status or error code added / removed      additive, reported all the same
    authentication newly required / dropped         breaking / additive

Standard library (and schema_compat) only, like cleave.contracts.compat; shared with the
AsyncAPI check through `rooted` and `schema_changes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cleave.contracts.schema_compat import Direction, SchemaChange, compare_schemas

__all__ = ["VERSIONING_ADVICE", "compare", "rooted", "schema_changes"]

Document = Mapping[str, Any]
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_COMPONENTS = "#/components/schemas/"

VERSIONING_ADVICE = (
    "Apps already installed were built against the recorded document and cannot follow a "
    "breaking change. Version instead: add beside the old shape (a new optional input, a new "
    "response field, a new operation or path), mark what it replaces deprecated "
    "(`deprecated=True` on the route: Deprecation/Sunset headers and the document tell "
    "clients), and remove that only once it is past its sunset (removing an operation the "
    "recorded document marks deprecated passes). A change no client can live with goes to a "
    "new API version (/api/v2) served alongside v1."
)


def compare(old: Document, new: Document) -> list[SchemaChange]:
    """Every difference between two OpenAPI documents, in a stable order (path, method)."""
    changes: list[SchemaChange] = []
    old_paths, new_paths = old.get("paths", {}), new.get("paths", {})
    for path in sorted(old_paths.keys() | new_paths.keys()):
        old_ops, new_ops = (
            _operations(old_paths.get(path, {})),
            _operations(new_paths.get(path, {})),
        )
        for method in sorted(old_ops.keys() | new_ops.keys()):
            where = f"{method.upper()} {path}"
            if method not in new_ops:
                deprecated = bool(old_ops[method].get("deprecated"))
                what = "deprecated operation removed" if deprecated else "operation removed"
                changes.append(SchemaChange(where, "additive" if deprecated else "breaking", what))
            elif method not in old_ops:
                changes.append(SchemaChange(where, "additive", "operation added"))
            else:
                pair = _Pair(old, new, where)
                changes += pair.operation(old_ops[method], new_ops[method])
    return changes


def _operations(path_item: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {method: op for method, op in path_item.items() if method in _METHODS}


class _Pair:
    """One operation's two versions, each resolving schemas against its own document."""

    def __init__(self, old_doc: Document, new_doc: Document, where: str) -> None:
        self.old_doc, self.new_doc, self.where = old_doc, new_doc, where
        self.changes: list[SchemaChange] = []

    def note(self, kind: Any, what: str, where: str | None = None) -> None:
        self.changes.append(SchemaChange(where or self.where, kind, what))

    def operation(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[SchemaChange]:
        if old.get("operationId") != new.get("operationId"):
            was, now = old.get("operationId"), new.get("operationId")
            self.note("breaking", f"operation id changed from {was!r} to {now!r}")
        if bool(old.get("security")) != bool(new.get("security")):
            now_required = bool(new.get("security"))
            kind = "breaking" if now_required else "additive"
            self.note(kind, "authentication " + ("now required" if now_required else "dropped"))
        self.parameters(old.get("parameters", []), new.get("parameters", []))
        self.body(old.get("requestBody"), new.get("requestBody"))
        self.responses(old.get("responses", {}), new.get("responses", {}))
        return self.changes

    def parameters(self, old: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> None:
        olds = {(p["in"], p["name"]): p for p in old}
        news = {(p["in"], p["name"]): p for p in new}
        for key in sorted(olds.keys() | news.keys()):
            where = f"{self.where} {key[0]} parameter '{key[1]}'"
            if key not in news:
                self.note("breaking", "parameter removed", where)
            elif key not in olds:
                required = bool(news[key].get("required"))
                how = "required" if required else "optional"
                self.note(
                    "breaking" if required else "additive", f"parameter added as {how}", where
                )
            else:
                if news[key].get("required") and not olds[key].get("required"):
                    self.note("breaking", "parameter became required", where)
                self.schema(
                    "input", olds[key].get("schema", {}), news[key].get("schema", {}), where
                )

    def body(self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        where = f"{self.where} request body"
        if old is None and new is None:
            return
        if new is None:
            self.note("breaking", "request body removed", where)
            return
        if old is None:
            required = bool(new.get("required"))
            kind = "breaking" if required else "additive"
            self.note(
                kind, f"request body added as {'required' if required else 'optional'}", where
            )
            return
        if new.get("required") and not old.get("required"):
            self.note("breaking", "request body became required", where)
        self.content("input", old.get("content", {}), new.get("content", {}), where)

    def responses(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        for status in sorted(old.keys() | new.keys()):
            where = f"{self.where} response {status}"
            success = not status.isdigit() or int(status) < 400
            if status not in new:
                self.note("breaking" if success else "additive", "response removed", where)
            elif status not in old:
                self.note("additive", "response added", where)
            elif success:
                self.content(
                    "output", old[status].get("content", {}), new[status].get("content", {}), where
                )
            else:
                was = set(old[status].get("x-error-codes", ()))
                now = set(new[status].get("x-error-codes", ()))
                for code in sorted(was ^ now):
                    self.note(
                        "additive",
                        f"error code '{code}' {'added' if code in now else 'removed'}",
                        where,
                    )

    def content(
        self, direction: Direction, old: Mapping[str, Any], new: Mapping[str, Any], where: str
    ) -> None:
        for media in sorted(old.keys() | new.keys()):
            at = f"{where} ({media})"
            if media not in new:
                self.note("breaking", "media type removed", at)
            elif media not in old:
                self.note("additive", "media type added", at)
            else:
                self.schema(
                    direction, old[media].get("schema", {}), new[media].get("schema", {}), at
                )

    def schema(self, direction: Direction, old: Any, new: Any, where: str) -> None:
        self.changes += schema_changes(
            direction, rooted(old, self.old_doc), rooted(new, self.new_doc), where
        )


def schema_changes(direction: Direction, old: Any, new: Any, where: str) -> list[SchemaChange]:
    """schema_compat for messages read once (HTTP responses, socket frames)."""
    return compare_schemas(direction, old, new, where, stored=False)


def rooted(schema: Any, document: Document) -> dict[str, Any]:
    """`schema` made self-contained for schema_compat: the document's component schemas
    become its `$defs`, and references to them follow."""
    components = document.get("components", {}).get("schemas", {})
    return {**_relinked(schema), "$defs": _relinked(components)}


def _relinked(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            key: (
                "#/$defs/" + value.removeprefix(_COMPONENTS)
                if key == "$ref" and isinstance(value, str) and value.startswith(_COMPONENTS)
                else _relinked(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_relinked(item) for item in node]
    return node
