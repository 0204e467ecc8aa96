"""The overview's chart, as data for an SVG drawn by the template (no script): Active findings by
severity after each recent run, one polyline per severity. Pure geometry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


@dataclass(frozen=True)
class Line:
    severity: str
    points: str  # "x,y x,y ..." for <polyline points=...>
    dots: tuple[tuple[float, float, int], ...]  # x, y, value


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    lines: tuple[Line, ...]
    y_ticks: tuple[tuple[float, int], ...]  # y, value
    x_labels: tuple[tuple[float, str], ...]  # x, label
    plot: tuple[int, int, int, int]  # left, top, right, bottom


def nice_ceiling(value: int) -> int:
    """The smallest 1/2/5 x 10^n at or above value (at least 5)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= max(value, 5):
                return m * step
        step *= 10


def line_chart(
    labels: Sequence[str], series: dict[str, Sequence[int]], severities: Sequence[str]
) -> Chart | None:
    """One line per severity over the labelled points; None with fewer than two points."""
    n = len(labels)
    if n < 2:
        return None
    top_value = nice_ceiling(max((max(v, default=0) for v in series.values()), default=0))
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM

    def x(i: int) -> float:
        return round(LEFT + (right - LEFT) * i / (n - 1), 1)

    def y(v: int) -> float:
        return round(bottom - (bottom - TOP) * v / top_value, 1)

    lines = []
    for severity in severities:
        values = series.get(severity)
        if not values or not any(values):
            continue
        dots = tuple((x(i), y(v), v) for i, v in enumerate(values))
        lines.append(Line(severity, " ".join(f"{px},{py}" for px, py, _ in dots), dots))
    ticks = tuple((y(top_value * k // 4), top_value * k // 4) for k in range(5))
    every = max(1, n // 8)
    x_labels = tuple((x(i), labels[i]) for i in range(n) if i % every == 0 or i == n - 1)
    return Chart(WIDTH, HEIGHT, tuple(lines), ticks, x_labels, (LEFT, TOP, right, bottom))
