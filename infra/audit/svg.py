"""Inline SVG pictures for the HTML report: the mesh topology and the access heatmap.

Plain strings, no dependencies, no scripts: hover titles (`<title>`) carry the details. Colours
encode the kind of access the same way in both pictures (see :data:`KINDS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from infra.access import Grant

FONT = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"

# kind -> (label, fill/stroke colour)
KINDS: dict[str, tuple[str, str]] = {
    "write": ("write (owning producer)", "#1f5fa8"),
    "full": ("read, every column", "#2e8540"),
    "limited": ("read, some columns", "#e0a100"),
    "pii": ("read incl. PII", "#c62828"),
    "expired": ("expired (grants nothing)", "#8a8a8a"),
}
DOMAIN_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#e15759",
    "#bab0ac",
)


def kind_of(grant: Grant, all_columns: int) -> str:
    if grant.access == "write":
        return "write"
    if grant.pii:
        return "pii"
    return "full" if len(grant.columns) >= all_columns else "limited"


def domain_colour(domains: list[str], domain: str) -> str:
    return (
        DOMAIN_PALETTE[domains.index(domain) % len(DOMAIN_PALETTE)] if domain in domains else "#888"
    )


@dataclass(frozen=True)
class ProductInfo:
    id: str  # domain.product
    domain: str
    name: str
    classification: str
    columns: int
    pii_columns: int


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _text(x: float, y: float, text: str, size: int = 12, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{_e(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{extra}>{_e(text)}</text>'


def _legend(
    x: float, y: float, kinds: Iterable[str], lines: bool = False, vertical: bool = False
) -> str:
    """A legend row (or column): swatches for cells, line samples for edges."""
    parts, cx, cy = [], x, y
    for kind in kinds:
        label, colour = KINDS[kind]
        if lines:
            dash = {"limited": "7 4", "expired": "2 5"}.get(kind, "")
            width = 4 if kind == "pii" else 2.5
            parts.append(
                f'<line x1="{cx}" y1="{cy}" x2="{cx + 30}" y2="{cy}" stroke="{colour}" '
                f'stroke-width="{width}" stroke-dasharray="{dash}"/>'
            )
        elif kind == "expired":
            parts.append(
                f'<rect x="{cx + 7}" y="{cy - 8}" width="16" height="16" rx="3" '
                f'fill="url(#expired)" stroke="{colour}"/>'
            )
        else:
            parts.append(
                f'<rect x="{cx + 7}" y="{cy - 8}" width="16" height="16" rx="3" fill="{colour}"/>'
            )
        parts.append(_text(cx + 38, cy + 4, label, 12, fill="#333"))
        if vertical:
            cy += 24
        else:
            cx += 38 + 7 * len(label) + 28
    return "".join(parts)


def topology(
    domains: list[str],
    owners: dict[str, str],
    products: list[ProductInfo],
    grants: list[Grant],
    expired: list[Grant],
    width: int = 1280,
    flagged: frozenset[tuple[str, str]] = frozenset(),
) -> str:
    """Domains as groups holding their products (left), consumer roles (right), one edge per
    grant. Solid green: every column; dashed amber: some columns; thick red: PII; grey dotted:
    expired. Edges in `flagged` (effective access that differs from the declared access) get a
    black halo. Consumers are ordered by the mean height of what they read (fewer crossings)."""
    node_h, gap, head, pad = 30, 8, 26, 10
    left_x, left_w = 20, 330
    right_w = 220
    right_x = width - right_w - 20
    y = 20.0
    parts: list[str] = []
    product_y: dict[str, float] = {}
    by_domain: dict[str, list[ProductInfo]] = {}
    for p in products:
        by_domain.setdefault(p.domain, []).append(p)
    for domain in domains:
        items = by_domain.get(domain, [])
        h = head + pad + max(1, len(items)) * (node_h + gap)
        colour = domain_colour(domains, domain)
        parts.append(
            f"<g><title>{_e(domain)}: owned by {_e(owners.get(domain, '?'))}</title>"
            f'<rect x="{left_x}" y="{y:.1f}" width="{left_w}" height="{h:.1f}" rx="10" '
            f'fill="{colour}" fill-opacity="0.10" stroke="{colour}" stroke-width="1.5"/>'
            + _text(left_x + 12, y + 18, domain, 14, font_weight="bold", fill=colour)
            + _text(
                left_x + left_w - 12,
                y + 18,
                owners.get(domain, ""),
                11,
                fill="#555",
                text_anchor="end",
            )
            + "</g>"
        )
        ny = y + head + pad / 2
        if not items:
            parts.append(
                _text(left_x + 20, ny + 19, "no products", 12, fill="#777", font_style="italic")
            )
        for p in items:
            tip = f"{p.id} · {p.classification} · {p.columns} columns" + (
                f", {p.pii_columns} PII" if p.pii_columns else ""
            )
            parts.append(
                f"<g><title>{_e(tip)}</title>"
                f'<rect x="{left_x + 14}" y="{ny:.1f}" width="{left_w - 28}" height="{node_h}" '
                f'rx="6" fill="#fff" stroke="{colour}"/>'
                + _text(left_x + 26, ny + 19, p.name, 13, fill="#222")
                + _text(
                    left_x + left_w - 26,
                    ny + 19,
                    p.classification + (" · PII" if p.pii_columns else ""),
                    11,
                    fill="#c62828" if p.pii_columns else "#666",
                    text_anchor="end",
                )
                + "</g>"
            )
            product_y[p.id] = ny + node_h / 2
            ny += node_h + gap
        y += h + 14
    left_bottom = y

    all_edges = [(g, False) for g in grants if g.access == "read"] + [(g, True) for g in expired]
    consumers = sorted({g.principal for g, _ in all_edges})
    mean_y = {
        c: sum(product_y.get(g.product, 0) for g, _ in all_edges if g.principal == c)
        / max(1, sum(1 for g, _ in all_edges if g.principal == c))
        for c in consumers
    }
    consumers.sort(key=lambda c: (mean_y[c], c))
    span = max(left_bottom - 20, len(consumers) * 50.0)
    step = span / max(1, len(consumers))
    consumer_y = {c: 20 + step * (i + 0.5) for i, c in enumerate(consumers)}
    columns_of = {p.id: p.columns for p in products}

    edges = []
    for g, is_expired in sorted(all_edges, key=lambda e: (not e[1], e[0].pii)):
        if g.product not in product_y:
            continue
        kind = "expired" if is_expired else kind_of(g, columns_of.get(g.product, 0))
        colour = KINDS[kind][1]
        x1, y1 = left_x + left_w - 14, product_y[g.product]
        x2, y2 = right_x, consumer_y[g.principal]
        mid = (x1 + x2) / 2
        dash = {"limited": "7 4", "expired": "2 5"}.get(kind, "")
        width_ = {"pii": 4.0, "expired": 2.0}.get(kind, 2.5)
        until = g.expires.isoformat() if g.expires else "no expiry"
        tip = (
            f"{g.principal} reads {g.product}: {len(g.columns)} column(s)"
            f"{' incl. PII' if g.pii else ''}, {'expired ' + until if is_expired else until}"
        )
        path = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        if (g.principal, g.product) in flagged and not is_expired:
            tip = "DIFFERS FROM THE BLUEPRINTS: " + tip
            edges.append(
                f'<path d="{path}" fill="none" stroke="#111" stroke-width="{width_ + 5}" '
                f'stroke-dasharray="10 5"/>'
            )
        edges.append(
            f'<path d="{path}" '
            f'fill="none" stroke="{colour}" stroke-width="{width_}" stroke-dasharray="{dash}" '
            f'stroke-opacity="{0.75 if is_expired else 0.85}"><title>{_e(tip)}</title></path>'
        )
    nodes = []
    for c in consumers:
        domain = c.split(":")[0]
        colour = domain_colour(domains, domain)
        cy = consumer_y[c]
        n = sum(1 for g, e in all_edges if g.principal == c and not e)
        nodes.append(
            f"<g><title>{_e(c)}: {n} active grant(s)</title>"
            f'<rect x="{right_x}" y="{cy - 16:.1f}" width="{right_w}" height="32" rx="16" '
            f'fill="{colour}" fill-opacity="0.15" stroke="{colour}" stroke-width="1.5"/>'
            + _text(right_x + 16, cy + 5, c, 13, fill="#222", font_weight="bold")
            + _text(
                right_x + right_w - 14, cy + 5, f"{n} grant(s)", 11, fill="#555", text_anchor="end"
            )
            + "</g>"
        )
    height = max(left_bottom, 20 + span) + 50
    legend = _legend(left_x, height - 22, ("full", "limited", "pii", "expired"), lines=True)
    header = _text(left_x, 12, "producing domains and their products", 11, fill="#555") + _text(
        right_x, 12, "consumer roles", 11, fill="#555"
    )
    return (
        f'<svg width="{width}" height="{height:.0f}" '
        f'viewBox="0 0 {width} {height:.0f}" style="{FONT}" role="img" '
        f'aria-label="Mesh topology">'
        + header
        + "".join(parts)
        + "".join(edges)
        + "".join(nodes)
        + legend
        + "</svg>"
    )


def heatmap(
    principals: list[str],
    products: list[ProductInfo],
    grants: list[Grant],
    expired: list[Grant],
    domains: list[str],
    flagged: frozenset[tuple[str, str]] = frozenset(),
) -> str:
    """Principals (rows) x products (columns); colour = kind of access, text = columns readable
    out of all; a black frame marks a cell where effective and declared access differ."""
    cell, label_w, top = 40, 190, 150
    cols = [p.id for p in products]
    info = {p.id: p for p in products}
    grid_right = label_w + cell * len(cols)
    width = grid_right + 260
    height = top + cell * len(principals) + 20
    active = {(g.principal, g.product): g for g in grants}
    lapsed = {(g.principal, g.product): g for g in expired}
    parts = []
    for j, pid in enumerate(cols):
        x = label_w + j * cell + cell / 2
        colour = domain_colour(domains, info[pid].domain)
        parts.append(
            f'<text x="{x:.1f}" y="{top - 8}" font-size="12" fill="{colour}" '
            f'transform="rotate(-50 {x:.1f} {top - 8})">{_e(pid)}</text>'
        )
    for i, principal in enumerate(principals):
        y = top + i * cell
        domain = principal.split(":")[0]
        parts.append(
            _text(
                label_w - 10,
                y + cell / 2 + 4,
                principal,
                12,
                fill=domain_colour(domains, domain),
                text_anchor="end",
            )
        )
        for j, pid in enumerate(cols):
            x = label_w + j * cell
            g = active.get((principal, pid))
            total = info[pid].columns
            if g is not None:
                kind = kind_of(g, total)
                colour = KINDS[kind][1]
                label = "W" if kind == "write" else f"{len(g.columns)}/{total}"
                until = g.expires.isoformat() if g.expires else "no expiry"
                tip = (
                    f"{principal} → {pid}: {KINDS[kind][0]}; {len(g.columns)}/{total} columns; "
                    f"via {', '.join(g.via)}; {until}"
                )
                frame = ""
                if (principal, pid) in flagged:
                    tip = "DIFFERS FROM THE BLUEPRINTS: " + tip
                    frame = ' stroke="#111" stroke-width="4"'
                parts.append(
                    f'<g><title>{_e(tip)}</title><rect x="{x + 2}" y="{y + 2}" '
                    f'width="{cell - 4}" height="{cell - 4}" rx="4" fill="{colour}"{frame}/>'
                    + _text(
                        x + cell / 2,
                        y + cell / 2 + 4,
                        label,
                        11,
                        fill="#fff",
                        text_anchor="middle",
                        font_weight="bold",
                    )
                    + "</g>"
                )
            elif (principal, pid) in lapsed:
                e = lapsed[(principal, pid)]
                tip = f"{principal} → {pid}: expired on {e.expires}"
                parts.append(
                    f'<g><title>{_e(tip)}</title><rect x="{x + 1}" y="{y + 1}" '
                    f'width="{cell - 2}" height="{cell - 2}" rx="4" fill="url(#expired)" '
                    f'stroke="{KINDS["expired"][1]}"/></g>'
                )
            elif (principal, pid) in flagged:
                tip = f"DIFFERS FROM THE BLUEPRINTS: {principal} → {pid} is declared, not effective"
                parts.append(
                    f'<g><title>{_e(tip)}</title><rect x="{x + 2}" y="{y + 2}" '
                    f'width="{cell - 4}" height="{cell - 4}" rx="4" fill="#f1f3f5" '
                    'stroke="#111" stroke-width="4" stroke-dasharray="6 3"/></g>'
                )
            else:
                parts.append(
                    f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" '
                    f'rx="4" fill="#f1f3f5"/>'
                )
    legend = _legend(
        grid_right + 24, top + 12, ("write", "full", "limited", "pii", "expired"), vertical=True
    )
    defs = (
        '<defs><pattern id="expired" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#9e9e9e" stroke-width="2"/></pattern></defs>'
    )
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}" role="img" aria-label="Access heatmap">'
        + defs
        + "".join(parts)
        + legend
        + "</svg>"
    )
