#!/usr/bin/env python
"""Django's command-line utility for Cleave."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    # platform/ is a source root (like src/), never a package: appending it keeps the standard
    # library's `platform` module first on the path.
    for entry in (str(ROOT), str(ROOT / "platform")):
        if entry not in sys.path:
            sys.path.append(entry)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
