"""Bar charts as numbers for server-rendered SVG: the geometry is worked out here, the
templates draw it (so every label is escaped by the template engine). No script, no
stylesheet inside the SVG: colours come from classes in ``console.css``, and every chart has
a table of the same figures beside it for screen readers and for anyone who prefers numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 640
PLOT_TOP = 16
LABEL_ROW = 40
LEFT = 48


@dataclass(frozen=True)
class Bar:
    """One bar: where it is drawn, its series and its value written out."""

    x: float
    y: float
    width: float
    height: float
    series: int
    text: str
    label: str
    """What it is, for its tooltip: "2026-08, ASB cases per 1,000 homes: 1.2"."""


@dataclass(frozen=True)
class Tick:
    """A gridline and its label."""

    position: float
    text: str


@dataclass(frozen=True)
class Chart:
    """A drawn chart: its size, bars, axis labels and legend."""

    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Tick]
    series: list[str]
    horizontal: bool
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float


def _nice_top(highest: float) -> float:
    if highest <= 0:
        return 1.0
    step = 10 ** len(str(int(highest))) / 10 if highest >= 1 else 0.1
    for multiple in (1, 2, 2.5, 5, 10):
        top = step * multiple
        while top < highest:
            top += step * multiple
        if top / highest <= 2.5 or multiple == 10:
            return top
    return highest  # pragma: no cover


def column_chart(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    height: int = 260,
    top: float | None = None,
) -> Chart:
    """Vertical bars: one group per label along the bottom, one bar per series in each."""
    plot_bottom = height - LABEL_ROW
    plot_height = plot_bottom - PLOT_TOP
    highest = max((v for _, values in series for v in values), default=0.0)
    scale_top = top if top is not None else _nice_top(highest)
    group_width = (WIDTH - LEFT - 8) / max(1, len(groups))
    bar_width = group_width * 0.8 / max(1, len(series))
    bars: list[Bar] = []
    for g, group in enumerate(groups):
        for s, (name, values) in enumerate(series):
            value = values[g]
            h = plot_height * (value / scale_top) if scale_top else 0.0
            x = LEFT + g * group_width + group_width * 0.1 + s * bar_width
            bars.append(
                Bar(
                    round(x, 1),
                    round(plot_bottom - h, 1),
                    round(bar_width - 1, 1),
                    round(h, 1),
                    s,
                    fmt(value),
                    f"{group}, {name}: {fmt(value)}",
                )
            )
    ticks = [
        Tick(round(plot_bottom - plot_height * i / 4, 1), fmt(scale_top * i / 4)) for i in range(5)
    ]
    labels = [
        Tick(round(LEFT + (g + 0.5) * group_width, 1), group) for g, group in enumerate(groups)
    ]
    return Chart(
        WIDTH,
        height,
        bars,
        ticks,
        labels,
        [name for name, _ in series],
        False,
        LEFT,
        WIDTH - 8,
        PLOT_TOP,
        plot_bottom,
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    top: float | None = None,
    name: str = "",
    label_width: int = 170,
) -> Chart:
    """Horizontal bars, one per label, with the value written at the end of each bar."""
    row = 30
    height = PLOT_TOP + row * max(1, len(labels)) + 24
    right = WIDTH - 70
    scale_top = top if top is not None else _nice_top(max(values, default=0.0))
    span = right - label_width
    bars = [
        Bar(
            label_width,
            PLOT_TOP + i * row + 4,
            round(span * (v / scale_top), 1),
            row - 10,
            0,
            fmt(v),
            f"{label}: {fmt(v)}",
        )
        for i, (label, v) in enumerate(zip(labels, values, strict=True))
    ]
    ticks = [Tick(round(label_width + span * i / 4, 1), fmt(scale_top * i / 4)) for i in range(5)]
    rows = [Tick(PLOT_TOP + i * row + row / 2 + 1, label) for i, label in enumerate(labels)]
    return Chart(
        WIDTH,
        height,
        bars,
        ticks,
        rows,
        [name] if name else [],
        True,
        label_width,
        right,
        PLOT_TOP,
        PLOT_TOP + row * max(1, len(labels)),
    )


def percent(value: float) -> str:
    """A share as a percentage, as charts and tables write it."""
    return f"{value * 100:.0f}%"
