"""The dashboard's volume chart as server-rendered SVG (no script, no library)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 720, 180, 28


def volume_chart(series: list[dict[str, Any]]) -> Markup:
    """Bars of messages with a line of deliveries per bucket; labels every few buckets."""
    if not series:
        return Markup("")
    top = max(1, *(max(p["messages"], p["deliveries"]) for p in series))
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = inner_w / len(series)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Volume over time" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end" class="label">{top}</text>',
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end" class="label">0</text>',
    ]
    points = []
    label_every = max(1, len(series) // 6)
    for i, p in enumerate(series):
        x = PAD + i * step
        h = inner_h * p["messages"] / top
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{max(1.0, step - 2):.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(p['at'][:16])}: {p['messages']} messages, {p['deliveries']} deliveries</title></rect>"
        )
        points.append(f"{x + step / 2:.1f},{HEIGHT - PAD - inner_h * p['deliveries'] / top:.1f}")
        if i % label_every == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" class="label">{escape(p["at"][5:16].replace("T", " "))}</text>')
    parts.append(f'<polyline points="{" ".join(points)}" class="line"/>')
    parts.append("</svg>")
    # Every value from outside (bucket times) was escaped above; the rest are numbers.
    return Markup("".join(parts))  # noqa: S704
