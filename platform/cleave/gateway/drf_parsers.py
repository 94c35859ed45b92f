"""DRF's JSON parser with the mobile API's rules (cleave.gateway.json_body): duplicate keys
refused, and parse errors that say where, not the interpreter's own words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from cleave.errors import MalformedBody
from cleave.gateway.json_body import load_json


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return load_json(stream.read())
        except MalformedBody as exc:
            raise ParseError(f"JSON parse error: {exc.details['reason']}") from None
