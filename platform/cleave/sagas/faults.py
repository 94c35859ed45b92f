"""Kill-point injection for crash tests: `CLEAVE_SAGA_KILL_AT=<saga>:<step>:<before|after>`
(`…:compensate` for a compensation) makes the process running that point SIGKILL itself there,
with no chance to commit, acknowledge or clean up. The points come from the saga's definition
(`Saga.kill_points()`), so a new step brings its own. Set only by fault tests: the setting's
system check (cleave.W030) flags it anywhere else."""

from __future__ import annotations

import logging
import os
import signal

from django.conf import settings

logger = logging.getLogger(__name__)


def kill_point(point: str) -> None:
    """Die here, at once, if the fault test asked for `point`."""
    wanted = getattr(settings, "CLEAVE_SAGA_KILL_AT", "")
    if wanted and wanted == point:
        logger.warning("saga kill point %s reached: SIGKILL", point)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
