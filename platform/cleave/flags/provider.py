"""The flags contract: the home serves its definitions; other services load them through it."""

from __future__ import annotations

import logging
from dataclasses import asdict

from cleave.contracts.registry import client
from cleave.errors import CleaveError
from cleave.flags.definitions import FlagDefinition, load_local
from contracts.flags import (
    FLAGS,
    DefinitionsGet,
    FlagDefinitionOut,
    FlagDefinitions,
    FlagsService,
)

logger = logging.getLogger(__name__)


class FlagsProvider:
    def definitions_get(self, query: DefinitionsGet) -> FlagDefinitions:
        return FlagDefinitions(
            flags=[
                FlagDefinitionOut(
                    **{
                        **asdict(definition),
                        "platforms": sorted(definition.platforms),
                        "user_ids": sorted(definition.user_ids),
                        "roles": sorted(definition.roles),
                        "environments": sorted(definition.environments),
                        "variants": list(definition.variants),
                    }
                )
                for definition in sorted(load_local().values(), key=lambda d: d.name)
            ]
        )


_home = client(FLAGS, FlagsService)


def load_remote() -> dict[str, FlagDefinition] | None:
    try:
        result = _home.definitions_get(DefinitionsGet())
    except CleaveError as error:
        logger.warning("could not load flag definitions from the flags home: %s", error.code)
        return None
    return {
        flag.name: FlagDefinition(
            name=flag.name,
            everyone=flag.everyone,
            percent=flag.percent,
            killed=flag.killed,
            client_visible=flag.client_visible,
            platforms=frozenset(flag.platforms),
            min_app_version=flag.min_app_version,
            max_app_version=flag.max_app_version,
            user_ids=frozenset(flag.user_ids),
            roles=frozenset(flag.roles),
            environments=frozenset(flag.environments),
            variants=tuple(flag.variants),
        )
        for flag in result.flags
    }
