"""One self-contained HTML page: inline CSS, inline SVG and data: images, no script, no fetch.

Everything that comes from a report (class names, file names, layer names, recipe
text) is escaped here, so a class folder called ``<script>`` is shown, not run.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

_CSS = """
:root { color-scheme: light; --line: #d8dde3; --muted: #5f6b7a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d2530;
       background: #f6f7f9; }
header { background: #1d2530; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c5ccd6; }
nav { padding: 8px 32px; background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; }
nav a { margin-right: 16px; color: #3b6fb6; text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1200px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 20px;
          margin: 16px 0; }
h2 { font-size: 18px; margin: 4px 0 10px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
.facts { display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0 12px; }
.fact { border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px; min-width: 120px; }
.fact b { display: block; font-size: 18px; }
.fact span { color: var(--muted); font-size: 12px; }
figure { margin: 8px 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.target td:first-child { border-left: 4px solid #2e9d5b; padding-left: 6px; }
tr.cpu td:first-child { border-left: 4px solid #e8a33d; padding-left: 6px; }
tr.unsupported td:first-child { border-left: 4px solid #d1493f; padding-left: 6px; }
.note { background: #fff8e6; border-left: 4px solid #e8a33d; padding: 6px 12px; margin: 6px 0; }
.ok { background: #eaf6ee; border-left-color: #2e9d5b; }
.muted { color: var(--muted); }
pre { background: #f1f3f6; padding: 10px; overflow-x: auto; font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(132px, 1fr)); gap: 10px; }
.grid figure { margin: 0; border: 1px solid var(--line); border-radius: 4px; padding: 6px; text-align: center; }
.grid img { width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated; background: #eee; }
.grid figcaption { color: #1d2530; }
.wrong { color: #d1493f; }
.row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


@dataclass
class Section:
    anchor: str
    title: str
    parts: list[str] = field(default_factory=list)

    def add(self, *parts: str) -> "Section":
        self.parts.extend(parts)
        return self


@dataclass
class Page:
    title: str
    subtitle: str
    sections: list[Section] = field(default_factory=list)

    def section(self, anchor: str, title: str) -> Section:
        section = Section(anchor, title)
        self.sections.append(section)
        return section

    def render(self) -> str:
        links = "".join(f'<a href="#{esc(s.anchor)}">{esc(s.title)}</a>' for s in self.sections)
        body = "".join(
            f'<section id="{esc(s.anchor)}"><h2>{esc(s.title)}</h2>{"".join(s.parts)}</section>' for s in self.sections)
        # The policy forbids every fetch: a page that needed one would show it broken at once.
        policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(self.title)}</title><style>{_CSS}</style></head>"
            f"<body><header><h1>{esc(self.title)}</h1><p>{esc(self.subtitle)}</p></header>"
            f"<nav>{links}</nav><main>{body}</main></body></html>\n"
        )


def figure(name: str, svg: str, caption: str) -> str:
    """A plot, marked with ``data-figure`` so a test can find where it sits."""
    return f'<figure data-figure="{esc(name)}">{svg}<figcaption>{esc(caption)}</figcaption></figure>'


def row(*parts: str) -> str:
    """Parts side by side where the window is wide enough, stacked where not."""
    return f'<div class="row">{"".join(parts)}</div>'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, numeric: Sequence[int] = (),
          row_classes: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for n, row in enumerate(rows):
        cells = "".join(f'<td class="num">{esc(v)}</td>' if i in numeric else f"<td>{esc(v)}</td>"
                        for i, v in enumerate(row))
        css = f' class="{esc(row_classes[n])}"' if row_classes else ""
        lines.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def facts(items: Iterable[tuple[str, object]]) -> str:
    """Headline figures as tiles: (label, value)."""
    return '<div class="facts">' + "".join(
        f'<div class="fact"><b>{esc(value)}</b><span>{esc(label)}</span></div>' for label, value in items) + "</div>"


def note(text: str, *, ok: bool = False) -> str:
    return f'<p class="note{" ok" if ok else ""}">{esc(text)}</p>'


def paragraph(text: str, *, muted: bool = False) -> str:
    return f'<p class="muted">{esc(text)}</p>' if muted else f"<p>{esc(text)}</p>"


def heading(text: str) -> str:
    return f"<h3>{esc(text)}</h3>"


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def image_grid(items: Iterable[tuple[Path, str, str]]) -> str:
    """Thumbnails with a two-line caption: (PNG file, first line, second line in red)."""
    cells = []
    for path, first, second in items:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        cells.append(f'<figure><img alt="{esc(first)}" src="data:image/png;base64,{data}">'
                     f'<figcaption>{esc(first)}<br><span class="wrong">{esc(second)}</span></figcaption></figure>')
    return f'<div class="grid" data-figure="mistakes">{"".join(cells)}</div>'
