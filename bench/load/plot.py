"""Plot p50 and p99 latency against concurrent users, per target, from bench/load/run.py's JSON.

matplotlib is not a dependency of Cleave; install it into the venv for this script only:
  .venv/bin/pip install matplotlib
  .venv/bin/python bench/load/plot.py [--json var/load/results.json] [--out docs/load-latency.png]
  # side by side with a peer: p99 only, the series whose name ends with " chat"
  .venv/bin/python bench/load/plot.py --json var/load/peer.json --out docs/load-peer.png --only chat
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # after choosing the backend

ROOT = Path(__file__).resolve().parents[2]
COLOURS = {
    "embedded": "tab:blue",
    "split": "tab:orange",
    "real": "tab:green",
    "parse-1": "tab:red",
    "parse-2": "tab:purple",
}


def plot(figures: dict[str, Any], out: Path, only: str | None = None) -> None:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    series = (
        (("p99_ms", "-", "p99"),) if only else (("p50_ms", "--", "p50"), ("p99_ms", "-", "p99"))
    )
    for name, target in figures["targets"].items():
        if only and not name.endswith(f" {only}"):
            continue
        levels = target["levels"]
        users = [lv["users"] for lv in levels]
        colour = COLOURS.get(name.split(" ")[0])
        for key, style, label in series:
            values = [lv["overall"][key] for lv in levels]
            ax.plot(users, values, style, marker="o", color=colour, label=f"{name} {label}")
        failed = [(lv["users"], lv["overall"]["p99_ms"]) for lv in levels if lv["errors"]]
        if failed:
            ax.scatter(*zip(*failed, strict=True), marker="x", s=80, color="red", zorder=3)
    limit = figures["settings"]["p99_limit_ms"]
    ax.axhline(limit, color="grey", linewidth=0.8)
    ax.text(
        0.01,
        limit * 1.08,
        f"{limit:.0f} ms",
        color="grey",
        fontsize=8,
        transform=ax.get_yaxis_transform(),  # x in axes fraction, y in data
    )
    ax.set(xscale="log", yscale="log", xlabel="concurrent users", ylabel="latency (ms)")
    ax.set_xticks(figures["settings"]["users"], [str(u) for u in figures["settings"]["users"]])
    ax.set_title(
        f"{f'Scenario {only!r}' if only else 'Load scenario'} latency, all steps "
        f"({figures['machine']['cores']} cores, "
        "clients on the same machine; x = level with errors)",
        fontsize=9,
    )
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "load" / "results.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "load-latency.png")
    parser.add_argument("--only", help="p99 of the series of this scenario only (peer runs)")
    args = parser.parse_args()
    plot(json.loads(args.json.read_text()), args.out, args.only)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
