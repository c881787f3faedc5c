"""The overview's trend chart, drawn on the server as SVG: no script, any browser, and a
table beside it says the same for a screen reader."""

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from services.portal.texts import text

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 260, 44, 12, 16, 48
SERIES = (("completeness", "#0b4f9c", ""), ("timeliness", "#9b1c1c", "6 4"))


@dataclass(frozen=True)
class Chart:
    svg: Markup


def trend(items: list[dict[str, Any]], lang: str) -> Chart:
    """Completeness and timeliness, city-wide, over the periods given (in order)."""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(items) - 1, 1)

    def x(at: int) -> float:
        return LEFT + (at * step if len(items) > 1 else inner_w / 2)

    def y(ratio: float) -> float:
        return TOP + inner_h * (1 - ratio)

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="trend-title" '
             f'class="chart" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="trend-title">{escape(text("trend", lang))}</title>']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="#d0d0d0"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="#333">{int(tick * 100)}%</text>')
    every = max(1, len(items) // 10)
    for at, item in enumerate(items):
        if at % every == 0 or at == len(items) - 1:
            parts.append(f'<text x="{x(at):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                         f'text-anchor="middle" font-size="11" fill="#333">'
                         f'{escape(item["period"][-3:])}</text>')
    for key, colour, dash in SERIES:
        points = [(x(at), y(item["city"][key])) for at, item in enumerate(items)
                  if item["city"][key] is not None]
        if points:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="2.5" stroke-dasharray="{dash}"/>')
            parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>'
                      for px, py in points]
    for n, (key, colour, dash) in enumerate(SERIES):
        left = LEFT + n * 200
        parts.append(f'<line x1="{left}" x2="{left + 28}" y1="{HEIGHT - 10}" '
                     f'y2="{HEIGHT - 10}" stroke="{colour}" stroke-width="2.5" '
                     f'stroke-dasharray="{dash}"/>')
        parts.append(f'<text x="{left + 34}" y="{HEIGHT - 6}" font-size="12" fill="#1a1a1a">'
                     f'{escape(text(key, lang))}</text>')
    parts.append("</svg>")
    return Chart(Markup("".join(parts)))
