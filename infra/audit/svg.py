"""Inline SVG pictures for the HTML report, at the domain level so they stay readable at any
mesh size: the domain -> domain matrix (small meshes) and one star per domain (the domains it
reads from, the domains that read from it).

Plain strings, no scripts, no style attributes: sizes and colours are classes of the report's
stylesheet (`svg .nd`, `svg text.n`, ...; its Content-Security-Policy admits no inline style).
Every number is printed as text on the picture (no fact lives only in a hover title). Each
function returns `markupsafe.Markup`: every piece of text in it is escaped here, so the
template can insert it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from infra.model.access import DeclaredGrant

# kind -> (label, colour): the grant tags of the report and the pictures' edges
KINDS: dict[str, tuple[str, str]] = {
    "write": ("write (owning producer)", "#1f5fa8"),
    "full": ("read, every column", "#2e8540"),
    "limited": ("read, some columns", "#b98500"),
    "pii": ("read incl. PII", "#c62828"),
    "expired": ("expired (grants nothing)", "#8a8a8a"),
}


def kind_of(grant: DeclaredGrant, all_columns: int) -> str:
    if grant.access == "write":
        return "write"
    if grant.pii:
        return "pii"
    return "full" if len(grant.columns) >= all_columns else "limited"


@dataclass(frozen=True)
class Edge:
    """Consumer grants from the products of `source` to the consumer role of `target`."""

    source: str
    target: str
    grants: int
    pii: int  # of them, grants that include PII columns
    expiring: int  # of them, grants that end within the report's "expiring soon" window

    @property
    def label(self) -> str:
        text = f"{self.grants} grant{'s' if self.grants != 1 else ''}"
        return text + (f" · {self.pii} PII" if self.pii else "")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(v: float) -> str:
    """A coordinate: an integer when it is one (a report holds thousands of them)."""
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _text(x: float, y: float, text: object, cls: str = "", **attrs: object) -> str:
    """A text element; size, colour and alignment come from the report's stylesheet through
    `cls` (see report.css, `svg text.*`)."""
    extra = "".join(f' {k.replace("_", "-")}="{_e(v)}"' for k, v in attrs.items())
    klass = f' class="{cls}"' if cls else ""
    return f'<text{klass} x="{_n(x)}" y="{_n(y)}"{extra}>{_e(text)}</text>'


def _svg(width: float, height: float, label: str, body: str) -> Markup:
    return Markup(
        f'<svg width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{_e(label)}">{body}</svg>'
    )


def domain_matrix(domains: list[str], edges: list[Edge]) -> Markup:
    """Producing domains (rows) x consuming domains (columns). A cell prints the number of
    consumer grants between the two and, below it, how many include PII (red cell)."""
    longest = max((len(d) for d in domains), default=4)
    cell_w, cell_h = 44, 34
    label_w = 30 + 7 * longest
    top = 30 + 5.5 * longest  # room for the column labels, rotated by 50 degrees
    col = {d: i for i, d in enumerate(domains)}
    width = max(label_w + cell_w * len(domains) + 20, label_w + 460)  # the legend's width
    height = top + cell_h * len(domains) + 34
    parts = [_text(label_w - 10, top - 8, "from ↓ / to →", "hd end")]
    for d, i in col.items():
        x = label_w + i * cell_w + cell_w / 2
        parts.append(_text(x, top - 8, d, transform=f"rotate(-50 {_n(x)} {_n(top - 8)})"))
        y = top + i * cell_h
        parts.append(_text(label_w - 10, y + cell_h / 2 + 4, d, "end"))
        parts.append(
            f'<rect x="{_n(label_w)}" y="{_n(y)}" width="{cell_w * len(domains)}" '
            f'height="{cell_h}" fill="{"#f6f7f9" if i % 2 else "#fff"}"/>'
        )
    for e in edges:
        if e.source not in col or e.target not in col:
            continue
        x, y = label_w + col[e.target] * cell_w, top + col[e.source] * cell_h
        parts.append(
            f'<rect class="r{" p" if e.pii else ""}" x="{_n(x + 2)}" y="{_n(y + 2)}" '
            f'width="{cell_w - 4}" height="{cell_h - 4}" rx="4"/>'
        )
        if e.pii:
            parts.append(_text(x + cell_w / 2, y + 15, e.grants, "w c"))
            parts.append(_text(x + cell_w / 2, y + 27, f"{e.pii} PII", "w c s"))
        else:
            parts.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, e.grants, "w c"))
    ly = height - 14
    parts.append(f'<rect class="r" x="{_n(label_w)}" y="{_n(ly - 10)}" width="14" height="14"/>')
    parts.append(_text(label_w + 20, ly + 1, "consumer grants, no PII"))
    parts.append(
        f'<rect class="r p" x="{_n(label_w + 200)}" y="{_n(ly - 10)}" width="14" height="14"/>'
    )
    parts.append(_text(label_w + 220, ly + 1, "some include PII (count below)"))
    return _svg(width, height, "Domain to domain grants", "".join(parts))


def domain_star(domain: str, products: int, sources: list[Edge], targets: list[Edge]) -> Markup:
    """One domain in the middle; the domains it reads from on the left, the domains that read
    its products on the right; edge width grows with the number of grants, red when some
    include PII; each node prints its domain and the edge's numbers."""
    row_h, node_w, node_h, mid_w = 30, 230, 24, 190
    width = 2 * node_w + mid_w + 2 * 90 + 20
    left_x, right_x = 10, width - node_w - 10
    mid_x = (width - mid_w) / 2
    rows = max(len(sources), len(targets), 1)
    height = 24 + rows * row_h + 10
    mid_y = 24 + rows * row_h / 2
    parts = [
        _text(left_x, 14, f"reads from {len(sources)} domain(s)", "hd"),
        _text(right_x + node_w, 14, f"read by {len(targets)} domain(s)", "hd end"),
    ]

    def column(edges: list[Edge], x: float, left: bool) -> None:
        top = 24 + (rows - len(edges)) * row_h / 2
        for i, e in enumerate(edges):
            y = top + i * row_h + row_h / 2
            pii = " p" if e.pii else ""
            x1 = x + node_w if left else x
            x2 = mid_x if left else mid_x + mid_w
            cx = (x1 + x2) / 2
            width_ = 1.5 + min(e.grants, 10) * 0.7
            parts.append(
                f'<path class="ed{pii}" d="M{_n(x1)},{_n(y)} C{_n(cx)},{_n(y)} {_n(cx)},'
                f'{_n(mid_y)} {_n(x2)},{_n(mid_y)}" stroke-width="{width_:.1f}"/>'
            )
            parts.append(
                f'<rect class="nd{pii}" x="{_n(x)}" y="{_n(y - node_h / 2)}" width="{node_w}" '
                f'height="{node_h}" rx="12"/>'
            )
            parts.append(_text(x + 10, y + 4, e.source if left else e.target))
            parts.append(_text(x + node_w - 10, y + 4, e.label, f"n end{pii}"))

    column(sources, left_x, True)
    column(targets, right_x, False)
    parts.append(
        f'<rect class="mid" x="{_n(mid_x)}" y="{_n(mid_y - 22)}" width="{mid_w}" height="44" '
        'rx="10"/>'
    )
    parts.append(_text(mid_x + mid_w / 2, mid_y - 3, domain, "b c"))
    parts.append(_text(mid_x + mid_w / 2, mid_y + 13, f"{products} product(s)", "hd c"))
    return _svg(width, height, f"Grants to and from {domain}", "".join(parts))
