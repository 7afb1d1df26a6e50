"""Counted nouns for what a person reads: "1 window", "2 windows", never "1 windows"."""

from __future__ import annotations

IRREGULAR = {"process": "processes", "is": "are", "was": "were"}


def counted(number: int | float, noun: str, plural: str | None = None) -> str:
    """`counted(1, "window")` -> "1 window"; `counted(1200, "limit")` -> "1,200 limits"."""
    many = plural or IRREGULAR.get(noun) or f"{noun}s"
    shown = f"{number:,}" if isinstance(number, int) else f"{number:,g}"
    return f"{shown} {noun if number == 1 else many}"
