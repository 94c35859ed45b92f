"""Which service owns each public path, read from the URL configuration (`nginx` renders the
gateway config that routes a split topology by it).

Ownership is derived, never listed by hand: a ninja operation belongs to the context whose app
holds its view function's module (`apps.<context>.api` → that context); everything else (the
kernel's `/api/v1/meta`, `/api/v1/flags`, `/api/ops/`, `/admin/`, `/static/`, health) belongs
to the "edge" service, by default the one hosting the context that declares itself the edge
(cleave.contexts). A route added to a context is
therefore routed correctly the next time the config is generated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.urls import URLPattern, get_resolver

from cleave import contexts
from cleave.route_owners import (
    API_BASE,
    KERNEL,
    PARAM,
    api_routes,
    owner_of_module,
    route_shape,
    view_modules,
)

# Paths the public gateway must never route: service-to-service calls and metrics scrapes.
PRIVATE_PREFIXES = ("/internal", "/metrics")
# Served by WhiteNoise middleware on every process, not by the URL configuration.
STATIC_PREFIX = "/static/"


@dataclass(frozen=True, order=True)
class Location:
    """One nginx location: `= path` when `exact`, else `^~ path` (a prefix, never a regex)."""

    path: str
    exact: bool
    owner: str  # a context label, or KERNEL

    @property
    def directive(self) -> str:
        return f"location {'=' if self.exact else '^~'} {self.path}"


def default_edge() -> str:
    """The context whose service gets the kernel's routes: the declared edge."""
    return contexts.edge().label


def ownership() -> list[Location]:
    """Every public location and its owner (KERNEL for the edge's routes), longest first."""
    locations = _api_locations(api_routes())
    locations += _root_locations()
    locations.append(Location(STATIC_PREFIX, exact=False, owner=KERNEL))
    return sort_locations(set(locations))


def owners_by_prefix(locations: Iterable[Location]) -> dict[str, str]:
    """`{"/api/v1/<prefix>": "<context>", …}`: a readable view for docs and tests."""
    return {location.path.rstrip("/") or "/": location.owner for location in locations}


def sort_locations(locations: Iterable[Location]) -> list[Location]:
    """Longest path first (exact before prefix on a tie), so the output reads like the match.

    nginx itself picks the longest `^~` prefix and any `=` match regardless of order; sorting
    keeps the generated file stable and reviewable.
    """
    return sorted(locations, key=lambda loc: (-len(loc.path), not loc.exact, loc.path))


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    ends: set[str] = field(default_factory=set)  # owners of routes ending at this node

    def owners(self) -> set[str]:
        found = set(self.ends)
        for child in self.children.values():
            found |= child.owners()
        return found


def _api_locations(routes: Sequence[tuple[str, str]]) -> list[Location]:
    root = _Node()
    for route, owner in routes:
        node = root
        for part in route_shape(route).split("/") if route else []:
            node = node.children.setdefault(part, _Node())
        node.ends.add(owner)
    locations: list[Location] = []
    for segment, child in sorted(root.children.items()):
        if segment == PARAM:
            raise ValueError("a route starts with a path parameter right under /api/v1/")
        _emit(child, f"{API_BASE}/{segment}", locations)
    return locations


def _emit(node: _Node, path: str, out: list[Location]) -> None:
    """The fewest prefixes that still send every route to its owner (a trie walk)."""
    owners = node.owners()
    if len(owners) == 1:
        (owner,) = owners
        out += [Location(path, exact=True, owner=owner), Location(f"{path}/", False, owner)]
        return
    if len(node.ends) > 1:
        raise ValueError(f"{path} is served by several contexts: {sorted(node.ends)}")
    if node.ends:
        out.append(Location(path, exact=True, owner=next(iter(node.ends))))
    param = node.children.get(PARAM)
    if param is not None:
        param_owners = param.owners()
        if len(param_owners) > 1:
            # Would need a regex location per route; no context does this today.
            raise ValueError(f"{path}/{{param}}/… is split across {sorted(param_owners)}")
        out.append(Location(f"{path}/", exact=False, owner=param_owners.pop()))
    for segment, child in sorted(node.children.items()):
        if segment != PARAM:
            _emit(child, f"{path}/{segment}", out)


def _root_locations() -> list[Location]:
    """Owners of the root URL configuration's entries outside /api/v1/ (jwks, ops, admin…)."""
    locations = []
    for entry in get_resolver().url_patterns:
        route = str(entry.pattern)
        if route.rstrip("/") == API_BASE.lstrip("/") or _is_private("/" + route):
            continue
        owners = {owner_of_module(module) for module in view_modules(entry)}
        owner = owners.pop() if len(owners) == 1 else KERNEL
        path = "/" + route_shape(route) + ("/" if route.endswith("/") else "")
        if PARAM in path:
            raise ValueError(f"root route {route!r} has a parameter; not expressible as a prefix")
        exact = isinstance(entry, URLPattern) and not route.endswith("/")
        locations.append(Location(path, exact=exact, owner=owner))
    return locations


def _is_private(path: str) -> bool:
    return any(path == p or path.startswith(f"{p}/") for p in PRIVATE_PREFIXES)
