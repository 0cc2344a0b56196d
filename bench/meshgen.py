"""Deterministic synthetic mesh generator, for benchmarks and scale tests.

    from bench.meshgen import generate
    mesh = generate("/tmp/mesh", domains=1000, products_per_domain=10, consumers_per_product=3)
    mesh.paths      # the blueprint files written, one per domain
    mesh.products   # how many products in total

The same arguments (``today`` included) always give byte-identical files: a seeded
``random.Random``, no hash ordering. Every generated mesh is valid for ``mesh validate`` on
``today`` (no errors, no warnings, no governance findings: expiring grants end 31-330 days after
``today``, sensitive products state a freshness SLO, restricted products are not shared) and
looks like the sample mesh:

- 5-12 schema columns per product from a pool of realistic columns: ids, amounts as
  ``decimal(p,s)``, dates, timestamps, ``array<..>``, ``struct<..>`` and ``map<..>`` types, and
  some PII columns (e-mail, name, address, phone);
- a ``dt`` partition key on most products;
- ``consumers_per_product`` grants per shared product (all but the restricted ones), mixing every
  grant shape the access model knows: all non-PII columns, a column-limited grant, a PII grant
  with approval, expiring grants, and whole-table grants that opt into direct S3 read. Who
  consumes is the ``fan_in`` mode:

  - ``uniform`` (the default): consumers drawn uniformly from the whole mesh, so a popular
    domain may read from hundreds of others — the hard case for anything that grows per
    consumer (it once hid the consumer-role quota: drawing from 4 neighbouring domains kept
    every consumer under it);
  - ``hub``: the same, and the first domain (``hub``) additionally consumes a whole-table grant
    of one product of every other domain: one consumer of the whole mesh;
  - ``neighbours``: consumers drawn from the producer's next ``NEIGHBOURS`` domains only (the
    generator of earlier releases, kept to compare with their numbers);
- ``policies: {}`` and ``exceptions: []``;
- with ``tag_share`` (0-1), that share of the domains, spread evenly, grant by tag expression
  instead (issue 29): each of them replaces its grants of every non-PII column on its internal
  and public products (no column list, no PII, no direct read) by one ``tag_grants`` entry per
  consumer domain, ``{classification: [internal, public]}`` over its own products. Tag-based
  access being on only with an LF-tag ontology, :func:`generate` then also writes a
  ``_mesh.yaml`` (``MESH_FILE_WITH_TAGS``: the approver groups and the ontology), and every
  ``approved_by`` names the ``privacy`` group and every owner a GitHub team, as a tree with a
  platform file requires.

Building blocks, for benchmarks that need data rather than files:

- :func:`blueprints` returns the blueprints as plain dicts (what the YAML decodes to);
- :func:`render` turns one such dict into YAML text in the sample mesh's style;
- :func:`generate` writes them all to a directory.

Run as a script to write a mesh:
``python bench/meshgen.py OUT_DIR [DOMAINS] [PRODUCTS] [CONSUMERS] [--fan-in=uniform|hub|neighbours]``.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GeneratedMesh", "blueprints", "domain_names", "generate", "render"]

_EXPIRY_DAYS = (31, 331)  # grants expire this many days after `today` (range, end excluded)

_DOMAIN_WORDS = (
    "sales", "marketing", "finance", "logistics", "billing", "support", "inventory", "pricing",
    "payments", "shipping", "catalog", "loyalty", "fraud", "risk", "hr", "procurement", "search",
    "ads", "crm", "returns", "warehouse", "forecasting", "identity", "payroll", "legal", "audit",
)  # fmt: skip
_PRODUCT_WORDS = (
    "orders", "customers", "invoices", "shipments", "events", "sessions", "payments", "refunds",
    "tickets", "accounts", "prices", "stock_levels", "campaigns", "clicks", "leads", "contracts",
    "suppliers", "employees", "transactions", "forecasts", "reviews", "subscriptions", "devices",
    "carts",
)  # fmt: skip
NEIGHBOURS = 4  # fan_in="neighbours": consumers are drawn from the producer's next 4 domains
FAN_IN = ("uniform", "hub", "neighbours")
HUB = "hub"  # fan_in="hub": the name of the first domain, which consumes from all the others
_ADJECTIVES = ("daily", "hourly", "raw", "curated", "monthly", "enriched", "snapshot", "latest")
_TEAMS = ("data", "analytics", "platform", "insights", "eng")
_CLASSIFICATIONS = ("public", "internal", "internal", "confidential", "confidential", "restricted")
_SENSITIVE = ("confidential", "restricted")  # need a freshness SLO, 90+ days retention, expiry
_FORMATS = ("parquet", "parquet", "parquet", "json", "csv")
_RETENTION = (30, 90, 180, 365, 730, 1095, 1825, 3650)
_FRESHNESS = (None, 1, 6, 24, 24, 48, 168)  # None: only for public and internal products
_APPROVERS = ("privacy-office@example.com", "dpo@example.com", "legal-review@example.com")
_WHY = (
    "revenue reconciliation", "campaign attribution", "churn model features", "capacity planning",
    "fraud scoring", "executive dashboard", "regulatory reporting", "demand forecasting",
    "customer support tooling", "pricing experiments",
)  # fmt: skip

# (name, Glue type, pii); the first column of every product is its id
_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("customer_id", "string", False),
    ("customer_email", "string", True),
    ("full_name", "string", True),
    ("phone_number", "string", True),
    ("shipping_address", "struct<street:string,city:string,zip:string,country:string>", True),
    ("ip_address", "string", True),
    ("amount", "decimal(12,2)", False),
    ("net_amount", "decimal(14,2)", False),
    ("tax_rate", "decimal(5,4)", False),
    ("currency", "string", False),
    ("quantity", "int", False),
    ("item_count", "bigint", False),
    ("score", "double", False),
    ("is_active", "boolean", False),
    ("status", "string", False),
    ("channel", "string", False),
    ("country", "string", False),
    ("created_at", "timestamp", False),
    ("updated_at", "timestamp", False),
    ("event_date", "date", False),
    ("tags", "array<string>", False),
    ("line_items", "array<struct<sku:string,qty:int,price:decimal(10,2)>>", False),
    ("attributes", "map<string,string>", False),
    ("geo", "struct<lat:double,lon:double>", False),
    ("touchpoints", "array<struct<channel:string,seen_at:timestamp>>", False),
)
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .@/-]*$")


@dataclass(frozen=True)
class GeneratedMesh:
    """What :func:`generate` wrote."""

    directory: Path
    paths: tuple[Path, ...]
    domains: int
    products: int
    grants: int


def domain_names(count: int, fan_in: str = "uniform") -> list[str]:
    """``count`` distinct, valid domain names: ``sales``, ``marketing``, ... then ``sales_0026``
    (the first is ``hub`` in the hub mode)."""
    words = len(_DOMAIN_WORDS)
    names = [
        _DOMAIN_WORDS[i] if count <= words else f"{_DOMAIN_WORDS[i % words]}_{i:04d}"
        for i in range(count)
    ]
    if fan_in == "hub":
        names[0] = HUB
    return names


def blueprints(
    domains: int,
    products_per_domain: int,
    consumers_per_product: int,
    seed: int = 0,
    today: dt.date | None = None,
    fan_in: str = "uniform",
    tag_share: float = 0.0,
) -> list[dict[str, Any]]:
    """The blueprints of a synthetic mesh as plain dicts, in domain order.

    ``today`` (default: ``infra.clock.today()``, which ``MESH_TODAY`` pins) is the day the mesh
    is valid on. Raises ValueError when the numbers cannot make a valid mesh (e.g. more consumers
    per product than other domains).
    """
    if domains < 1 or products_per_domain < 0 or consumers_per_product < 0:
        raise ValueError("domains must be >= 1, products and consumers >= 0")
    if fan_in not in FAN_IN:
        raise ValueError(f"fan_in must be one of {', '.join(FAN_IN)}, got {fan_in!r}")
    if consumers_per_product > domains - 1:
        raise ValueError(
            f"{consumers_per_product} consumers per product need at least "
            f"{consumers_per_product + 1} domains, got {domains}"
        )
    if today is None:
        from infra import clock

        today = clock.today()
    names = domain_names(domains, fan_in)
    reach = max(consumers_per_product, NEIGHBOURS)
    out = []
    for index, domain in enumerate(names):
        rng = random.Random(f"{seed}:{index}")  # str seeds are hashed deterministically
        if fan_in == "neighbours" and domains - 1 > reach:  # the next domains, wrapping around
            others: _Others = [names[(index + k) % domains] for k in range(1, reach + 1)]
        else:  # the whole mesh but the producer itself, without building a list per domain
            others = _AllBut(names, index)
        hub = fan_in == "hub" and index > 0
        out.append(
            _blueprint(rng, domain, others, products_per_domain, consumers_per_product, today, hub)
        )
        if int((index + 1) * tag_share) > int(index * tag_share):  # evenly spread
            _by_tags(out[-1])
    if tag_share > 0:  # with a platform file, approved_by names one of its approver groups
        for bp in out:  # and each domain has its GitHub owner (W010 otherwise)
            bp["owner"]["github"] = f"@example/{bp['owner']['team']}"
            for product in bp["products"]:
                for grant in product["consumers"]:
                    if "approved_by" in grant:
                        grant["approved_by"] = "privacy"
    return out


TAG_EXPRESSION = {"classification": ["internal", "public"]}
# tag-based access is on when the platform file declares an LF-tag ontology (issue 29); the tag
# grants use the derived `classification` key only
MESH_FILE_WITH_TAGS = """\
# The platform file of a synthetic mesh: an LF-tag ontology, so that grants by tag are on.
approvers:
  privacy: {description: Data protection office, members: ["@example/privacy"]}
  security: {description: Security engineering, members: ["@example/security"]}
  platform: {description: Data platform team, members: ["@example/platform"]}
lf_tags:
  tier: {values: [bronze, silver, gold], description: Service tier of a product (synthetic)}
"""
_BY_TAGS = ("internal", "public")


def _by_tags(bp: dict[str, Any]) -> None:
    """Replace the domain's grants of every non-PII column of an internal or public product by
    one tag grant per consumer domain (`tag_share`); the latest expiry of those it replaces
    (none when one of them has none)."""
    expiry: dict[str, dt.date | None] = {}
    for product in bp["products"]:
        if product["classification"] not in _BY_TAGS:
            continue
        kept = []
        for grant in product["consumers"]:
            if {"columns", "include_pii", "s3_direct"} & set(grant):
                kept.append(grant)
                continue
            domain, until = grant["domain"], grant.get("expires")
            if domain in expiry:
                before = expiry[domain]
                until = None if before is None or until is None else max(before, until)
            expiry[domain] = until
        product["consumers"] = kept
    bp["tag_grants"] = [
        {
            "domain": domain,
            "lf_tags": dict(TAG_EXPRESSION),
            "justification": "every internal and public product of the domain",
            **({"expires": until} if until is not None else {}),
        }
        for domain, until in sorted(expiry.items())
    ]


class _AllBut(collections.abc.Sequence):
    """Every name but the one at `index`, as a sequence `random.sample` can draw from."""

    def __init__(self, names: list[str], index: int) -> None:
        self.names, self.index = names, index

    def __len__(self) -> int:
        return len(self.names) - 1

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.names[i if i < self.index else i + 1]


_Others = list[str] | _AllBut


def _blueprint(
    rng: random.Random,
    domain: str,
    others: _Others,
    n_products: int,
    n_consumers: int,
    today: dt.date,
    to_hub: bool = False,
) -> dict[str, Any]:
    """`to_hub`: the first product that may be shared also gives the hub a whole-table grant."""
    base = domain.split("_")[0]
    team = f"{base}-{rng.choice(_TEAMS)}"
    products = []
    used: set[str] = set()
    for p in range(n_products):
        name = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_PRODUCT_WORDS)}"
        if name in used:
            name = f"{name}_{p}"
        used.add(name)
        product = _product(rng, name, others, n_consumers, today)
        if to_hub and product["classification"] != "restricted":
            product["consumers"] = [c for c in product["consumers"] if c["domain"] != HUB] + [
                _hub_grant(product, today)
            ]
            to_hub = False
        products.append(product)
    if to_hub and products:  # every product restricted: the first one is shared after all
        first = products[0]
        first["classification"] = "confidential"  # still sensitive: SLO, retention, expiry
        first["consumers"] = [_hub_grant(first, today)]
    return {
        "domain": domain,
        "description": f"Data products of the {base} domain (synthetic)",
        "owner": {"team": team, "email": f"{team}@example.com"},
        "cost_center": f"CC-{rng.randrange(1000, 10000)}",
        "products": products,
        "policies": {},
        "exceptions": [],
    }


def _hub_grant(product: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """Every column (PII with approval), expiring like any grant on sensitive data."""
    grant: dict[str, Any] = {"domain": HUB}
    if any(c.get("pii") for c in product["schema"]):
        grant["include_pii"] = True
        grant["approved_by"] = _APPROVERS[0]
    grant["expires"] = today + dt.timedelta(days=_EXPIRY_DAYS[1] - 1)
    grant["justification"] = "company-wide data science platform"
    return grant


def _product(
    rng: random.Random, name: str, others: _Others, n_consumers: int, today: dt.date
) -> dict[str, Any]:
    picked = rng.sample(_COLUMNS, rng.randint(4, 11))
    schema: list[dict[str, Any]] = [{"name": f"{name}_id", "type": "string"}]
    for col_name, col_type, pii in picked:
        column: dict[str, Any] = {"name": col_name, "type": col_type}
        if pii:
            column["pii"] = True
        schema.append(column)
    classification = rng.choice(_CLASSIFICATIONS)
    sensitive = classification in _SENSITIVE
    product: dict[str, Any] = {
        "name": name,
        "description": f"{name.replace('_', ' ').capitalize()}, one row per record",
        "classification": classification,
        "format": rng.choice(_FORMATS),
        "retention_days": rng.choice(_RETENTION[3:] if sensitive else _RETENTION[1:]),
    }
    freshness = rng.choice(_FRESHNESS[1:] if sensitive else _FRESHNESS)
    if freshness is not None:
        product["freshness_slo_hours"] = freshness
    product["schema"] = schema
    if rng.random() < 0.7:
        product["partition_keys"] = [{"name": "dt", "type": "string"}]
    shared = classification != "restricted"  # restricted data stays in its domain
    product["consumers"] = [
        _consumer(rng, domain, schema, i % 4, sensitive, today)
        for i, domain in enumerate(rng.sample(others, n_consumers if shared else 0))
    ]
    return product


def _consumer(
    rng: random.Random,
    domain: str,
    schema: list[dict[str, Any]],
    shape: int,
    sensitive: bool,
    today: dt.date,
) -> dict[str, Any]:
    """shape 0: every non-PII column; 1: column-limited; 2: PII with approval; 3: expiring.

    Grants on sensitive products always expire (1, 2 and 3 do on any product). One in five of
    the grants that cover every column (2, and 0 on a product without PII) also opts into
    direct S3 read."""
    grant: dict[str, Any] = {"domain": domain}
    pii = any(c.get("pii") for c in schema)
    if shape == 1:
        public = [c["name"] for c in schema if not c.get("pii")]
        grant["columns"] = sorted(rng.sample(public, rng.randint(1, len(public))))
    elif shape == 2 and pii:
        grant["include_pii"] = True
        grant["approved_by"] = rng.choice(_APPROVERS)
    if shape != 0 or sensitive:
        grant["expires"] = today + dt.timedelta(days=rng.randrange(*_EXPIRY_DAYS))
    grant["justification"] = rng.choice(_WHY)
    whole = (shape == 2 and pii) or (shape in (0, 3) and not pii)
    if whole and rng.random() < 0.2:
        grant["s3_direct"] = True
    return grant


# --------------------------------------------------------------------------- YAML


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | dt.date):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text not in ("true", "false", "null", "yes", "no", "on", "off"):
        return text
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def _flow(mapping: dict[str, Any]) -> str:
    parts = []
    for key, value in mapping.items():
        if isinstance(value, list):
            value_text = "[" + ", ".join(_scalar(v) for v in value) + "]"
        else:
            value_text = _scalar(value)
        parts.append(f"{key}: {value_text}")
    return "{" + ", ".join(parts) + "}"


def render(blueprint: dict[str, Any]) -> str:
    """One blueprint dict as YAML, in the sample mesh's style (columns as flow mappings)."""
    lines = [
        f"domain: {_scalar(blueprint['domain'])}",
        f"description: {_scalar(blueprint['description'])}",
        f"owner: {_flow(blueprint['owner'])}",
        f"cost_center: {_scalar(blueprint['cost_center'])}",
    ]
    if blueprint.get("tag_grants"):
        lines.append("tag_grants:")
        for grant in blueprint["tag_grants"]:
            dash = "  - "
            for key, value in grant.items():
                text = _flow(value) if isinstance(value, dict) else _scalar(value)
                lines.append(f"{dash}{key}: {text}")
                dash = "    "
    products = blueprint.get("products", [])
    lines.append("products:" if products else "products: []")
    for product in products:
        first = True
        for key, value in product.items():
            lead = "  - " if first else "    "
            first = False
            if key in ("schema", "partition_keys"):
                lines.append(f"{lead}{key}:")
                lines.extend(f"      - {_flow(column)}" for column in value)
            elif key == "consumers":
                lines.append(f"{lead}consumers:" if value else f"{lead}consumers: []")
                for grant in value:
                    dash = "      - "
                    for gkey, gvalue in grant.items():
                        if isinstance(gvalue, list):
                            text = "[" + ", ".join(_scalar(v) for v in gvalue) + "]"
                        else:
                            text = _scalar(gvalue)
                        lines.append(f"{dash}{gkey}: {text}")
                        dash = "        "
            else:
                lines.append(f"{lead}{key}: {_scalar(value)}")
    lines.append("policies: {}" if not blueprint.get("policies") else _block("policies", blueprint))
    lines.append(
        "exceptions: []" if not blueprint.get("exceptions") else _block("exceptions", blueprint)
    )
    return "\n".join(lines) + "\n"


def _block(key: str, blueprint: dict[str, Any]) -> str:
    return f"{key}: {json.dumps(blueprint[key], default=str)}"  # JSON is YAML flow syntax


def generate(
    out_dir: str | Path,
    domains: int,
    products_per_domain: int,
    consumers_per_product: int,
    seed: int = 0,
    today: dt.date | None = None,
    fan_in: str = "uniform",
    tag_share: float = 0.0,
) -> GeneratedMesh:
    """Write a valid synthetic mesh, one ``<domain>.yaml`` per domain, into ``out_dir``.

    ``out_dir`` is created if needed; existing files of the same names are overwritten and no
    other file is touched. The same arguments write the same bytes; ``today`` is the day the mesh
    is valid on (default ``infra.clock.today()``).
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    products = grants = 0
    if tag_share > 0:
        path = directory / "_mesh.yaml"
        path.write_text(MESH_FILE_WITH_TAGS, encoding="utf-8")
        paths.append(path)
    for bp in blueprints(
        domains, products_per_domain, consumers_per_product, seed, today, fan_in, tag_share
    ):
        path = directory / f"{bp['domain']}.yaml"
        path.write_text(render(bp), encoding="utf-8")
        paths.append(path)
        products += len(bp["products"])
        grants += sum(len(p["consumers"]) for p in bp["products"])
    return GeneratedMesh(directory, tuple(paths), domains, products, grants)


if __name__ == "__main__":
    args = sys.argv[1:]
    if {"-h", "--help"} & set(args):
        sys.exit(print(__doc__))
    fan_in = "uniform"
    if args and args[-1].startswith("--fan-in="):
        fan_in = args.pop().split("=", 1)[1]
    if not 1 <= len(args) <= 4:
        sys.exit(
            "usage: python bench/meshgen.py OUT_DIR [DOMAINS=10] [PRODUCTS=5] [CONSUMERS=3] "
            f"[--fan-in={'|'.join(FAN_IN)}]"
        )
    numbers = [int(a) for a in args[1:]] + [10, 5, 3][len(args) - 1 :]
    result = generate(args[0], *numbers, fan_in=fan_in)
    print(
        f"wrote {result.domains} domain(s), {result.products} product(s), {result.grants} "
        f"grant(s) to {result.directory}"
    )
