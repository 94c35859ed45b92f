"""A pyinstrument session as an SVG flame graph (pyinstrument renders text, HTML and speedscope,
not SVG; an SVG shows on GitHub and in any browser without a viewer).

The root is at the bottom; a frame's width is its share of the total time; hovering one shows
its function, file, line and milliseconds. Frames under 0.2 % of the time are left out.
"""

from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path
from typing import Any

WIDTH = 1600
ROW = 17
FONT = 11
MIN_WIDTH = 1.0  # pixels


def _colour(name: str) -> str:
    """A warm colour, stable per function name (so two graphs compare by eye)."""
    digest = hashlib.md5(name.encode(), usedforsecurity=False).digest()
    return f"rgb({205 + digest[0] % 50},{80 + digest[1] % 130},{digest[2] % 60})"


def _label(frame: Any) -> str:
    path = frame.file_path_short or ""
    return f"{frame.function} ({path}:{frame.line_no})" if path else str(frame.function)


def _boxes(frame: Any, x: float, depth: int, scale: float, out: list[tuple[Any, ...]]) -> int:
    """Lay `frame` and its children out from `x`; return the deepest depth reached."""
    width = frame.time * scale
    if width < MIN_WIDTH:
        return depth - 1
    out.append((x, depth, width, _label(frame), frame.time))
    deepest, child_x = depth, x
    for child in sorted(frame.children, key=lambda c: -c.time):
        deepest = max(deepest, _boxes(child, child_x, depth + 1, scale, out))
        child_x += child.time * scale
    return deepest


def _simplified(root: Any) -> Any:
    """pyinstrument's own clean-ups, as its text view applies them: import machinery out,
    repeated calls merged, frames under 0.2 % of the time dropped (a readable, small file)."""
    from pyinstrument import processors

    options = {"filter_threshold": 0.002}
    for process in (
        processors.remove_importlib,
        processors.aggregate_repeated_calls,
        processors.merge_consecutive_self_time,
        processors.remove_unnecessary_self_time_nodes,
        processors.remove_irrelevant_nodes,
    ):
        root = process(root, options=options)
    return root


def write_svg(session: Any, path: Path, *, title: str) -> None:
    root = session.root_frame()
    if root is None:
        raise ValueError("the profile is empty")
    root = _simplified(root)
    boxes: list[tuple[Any, ...]] = []
    deepest = _boxes(root, 0.0, 0, WIDTH / root.time, boxes)
    height = (deepest + 3) * ROW
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="{FONT}">',
        f'<text x="4" y="{ROW - 4}">{escape(title)}: {root.time * 1000:.0f} ms sampled '
        f"(pyinstrument); width = share of time, hover for details</text>",
    ]
    for x, depth, width, label, seconds in boxes:
        y = height - (depth + 1) * ROW
        share = seconds / root.time
        tip = f"{label}: {seconds * 1000:.1f} ms ({share:.1%})"
        chars = int(width / (FONT * 0.6))
        text = label if len(label) <= chars else label[: max(chars - 1, 0)] + "…"
        caption = f'<text x="{x + 2:.1f}" y="{y + ROW - 5}">{escape(text)}</text>'
        parts.append(
            f'<g><title>{escape(tip)}</title><rect x="{x:.1f}" y="{y}" width="{width:.1f}" '
            f'height="{ROW - 1}" fill="{_colour(label)}"/>'
            + (caption if chars > 2 else "")
            + "</g>"
        )
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")
