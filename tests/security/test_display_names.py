"""Display names: stripped before their length is checked; no bidirectional controls; nobody
may look like the staff (issue 16, smaller items)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.identity.tests.factories import device, login, user_create

pytestmark = pytest.mark.django_db(transaction=True)


def _register(display_name: str, number: int = 1) -> Any:
    return Client(REMOTE_ADDR=f"10.9.0.{number}").post(
        "/api/v1/auth/register",
        {
            "email": f"name{number}@example.com",
            "password": "correct horse battery staple",
            "display_name": display_name,
            "device": device(),
        },
        content_type="application/json",
    )


def _code(response: Any) -> str:
    assert response.status_code == 422, response.content
    return str(response.json()["error"]["code"])


@pytest.mark.parametrize("name", ["   ", "\t\n", " \u3000 "])
def test_a_name_of_only_spaces_is_refused_as_empty(name: str) -> None:
    assert _code(_register(name)) == "display_name_empty"


def test_the_length_is_checked_after_stripping() -> None:
    padded = "  " + "x" * 100 + "  "
    assert _register(padded).status_code == 201
    assert _code(_register("y" * 101, 2)) == "display_name_too_long"


@pytest.mark.parametrize(
    "control", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
                "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"],
)  # fmt: skip
def test_bidirectional_controls_are_refused(control: str) -> None:
    assert _code(_register(f"Eve{control}lin")) == "display_name_bidi_control"


@pytest.mark.parametrize(
    "name",
    ["admin", "Administrator", "STAFF", "Support", "moderator", "Cleave", "Admin Team",
     "a d m i n", "A.D.M.I.N", "ad-min", "Adm1n", "  cleave support ", "Moderator_Bob",
     "\uff41\uff44\uff4d\uff49\uff4e", "adm\u200bin", "Supp0rt desk"],
)  # fmt: skip
def test_names_that_imitate_staff_are_refused(name: str) -> None:
    assert _code(_register(name)) == "display_name_reserved"


@pytest.mark.parametrize("name", ["Staffan", "Adminah Okafor", "Cleaver", "Ann Support-Smith"])
def test_ordinary_names_that_merely_contain_a_reserved_word_are_kept(name: str) -> None:
    response = _register(name)
    assert response.status_code == 201, response.content
    assert response.json()["user"]["display_name"] == name


def test_the_profile_update_applies_the_same_rules() -> None:
    user_create(email="member@example.com")
    member = login("member@example.com")
    assert _code(member.send("patch", "/api/v1/me", {"display_name": "Admin"})) == (
        "display_name_reserved"
    )
    assert _code(member.send("patch", "/api/v1/me", {"display_name": "a\u202eb"})) == (
        "display_name_bidi_control"
    )
    assert _code(member.send("patch", "/api/v1/me", {"display_name": "  "})) == (
        "display_name_empty"
    )
    renamed = member.send("patch", "/api/v1/me", {"display_name": "  Rosa  "})
    assert renamed.status_code == 200
    assert renamed.json()["display_name"] == "Rosa"
