"""Install (or check) the pinned Parse Server under var/peers/parse.

  .venv/bin/python bench/peers/parse/install.py           # npm ci when the pin is not installed
  .venv/bin/python bench/peers/parse/install.py --check   # Node, the pin and server.js; no npm

The pin is package.json + package-lock.json here (parse-server 9.10.0, the newest release; it
needs Node >= 20.19 on the 20 line). The lock file makes `npm ci` install the same tree every
time; var/ is never committed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
INSTALL_DIR = ROOT / "var" / "peers" / "parse"
FILES = ("package.json", "package-lock.json", "server.js")


def pinned_version() -> str:
    """The parse-server version package.json pins (exactly: no range)."""
    wanted = json.loads((HERE / "package.json").read_text())["dependencies"]["parse-server"]
    if not re.fullmatch(r"\d+\.\d+\.\d+", wanted):
        raise SystemExit(f"parse-server must be pinned to one version, not {wanted!r}")
    return str(wanted)


def installed_version() -> str | None:
    path = INSTALL_DIR / "node_modules" / "parse-server" / "package.json"
    return str(json.loads(path.read_text())["version"]) if path.exists() else None


def node_version() -> tuple[int, int, int]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("Parse Server needs Node.js (`node` is not on PATH)")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major, minor, patch = (int(part) for part in out.stdout.strip().lstrip("v").split("."))
    return major, minor, patch


def satisfies(version: tuple[int, int, int], engines: str) -> bool:
    """Whether `version` is in an npm engines range of the form ">=a.b.c <d.e.f || …"."""
    for alternative in engines.split("||"):
        bounds = re.findall(r"(>=|<)(\d+)\.(\d+)\.(\d+)", alternative)
        if all(
            (version >= limit) if op == ">=" else (version < limit)
            for op, *parts in bounds
            for limit in [tuple(int(p) for p in parts)]
        ):
            return True
    return False


def check() -> str:
    """What a dry run checks without npm: Node fits the pinned release's engines, the lock file
    holds the pin, server.js parses. Returns a one-line summary."""
    version = pinned_version()
    lock = json.loads((HERE / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/parse-server"]
    if locked["version"] != version:
        raise SystemExit(f"package-lock.json has parse-server {locked['version']}, not {version}")
    node = node_version()
    engines = locked.get("engines", {}).get("node", "")
    if not satisfies(node, engines):
        raise SystemExit(f"Node {'.'.join(map(str, node))} is outside parse-server's {engines}")
    node_bin = shutil.which("node") or "node"
    subprocess.run([node_bin, "--check", str(HERE / "server.js")], check=True)
    return f"parse-server {version} (Node {'.'.join(map(str, node))} fits {engines})"


def install() -> Path:
    """var/peers/parse with the pinned tree (`npm ci` only when it is not there yet)."""
    summary = check()
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(HERE / name, INSTALL_DIR / name)
    if installed_version() != pinned_version():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("installing Parse Server needs npm")
        print(f"installing {summary} into {INSTALL_DIR}…", file=sys.stderr)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel", "error"],
            cwd=INSTALL_DIR,
            check=True,
        )
    return INSTALL_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="check only; no npm")
    args = parser.parse_args()
    if args.check:
        print(check())
    else:
        where = install()  # first: the version is read from what it installed
        print(f"Parse Server {installed_version()} in {where}")


if __name__ == "__main__":
    main()
