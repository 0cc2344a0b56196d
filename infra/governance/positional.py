"""Schema changes a format that maps columns by position cannot take (`mesh validate --base`,
`mesh diff`): the objects already written keep their layout, so the table would read them
shifted, and a consumer granted a harmless column would read another one — PII included.

- **E072** for a `format: csv` product (its SerDe reads the fields of a line in the order of
  the table's columns; Athena: "CSV and TSV allow you to do all schema manipulations except
  reordering of columns, or adding columns at the beginning"): a column moved, a column
  removed before the end, or a column inserted before the end. Appending columns at the end
  and dropping the last ones are safe (old lines lack the new fields, or carry ignored ones);
  a rename in place (`previous_names`) is safe too.
- **E073** any product whose `format` changes: the objects already written stay in the old
  format, which the table would then misread.

Both are refused, PII or not: the change corrupts what every consumer reads, which no approval
makes right. The way out is a new product (a new location) and the old one decommissioned.
JSON and Parquet map columns by name (Athena reads Parquet by name by default), so their
columns may move freely.
"""

from __future__ import annotations

from infra.errors import Problem, quote
from infra.model.mesh import Mesh
from infra.model.spec import DataFormat, Product

POSITIONAL_FORMATS = frozenset({DataFormat.csv})


def positional_problems(
    head: Mesh, domain: str, index: int, old: Product, new: Product
) -> list[Problem]:
    """E072/E073 for product `old` of BASE that is `new`, at `index` of HEAD's `domain`."""
    src = head.source(domain)
    pid = f"{domain}.{new.name}"
    if old.format != new.format:
        return [
            src.problem(
                ("products", index, "format"),
                "E073",
                f"the format of {pid} changes from {old.format.value} to {new.format.value}: "
                f"the objects already written stay {old.format.value}, and the table would "
                "read them as the new format; create a new product for the new format and "
                "decommission this one",
            )
        ]
    if old.format not in POSITIONAL_FORMATS:
        return []
    renamed = {o: c.name for c in new.columns for o in c.previous_names}
    before = [renamed.get(c.name, c.name) for c in old.columns]
    after = [c.name for c in new.columns]
    for i, (was, now) in enumerate(zip(before, after, strict=False)):
        if was == now:
            continue
        if now not in before:
            what = f"column {quote(now)} is inserted before the end"
        elif was not in after:
            what = f"column {quote(was)} is removed before the end"
        else:
            what = f"column {quote(now)} is moved"
        return [
            src.problem(
                ("products", index, "schema", i),
                "E072",
                f"{pid} is {old.format.value}, read by position: {what}, so position {i + 1} "
                f"of every object already written (which holds {quote(was)}) would be read as "
                f"{quote(now)}, and the columns after it shifted: only add columns at the end "
                "or drop the last ones (or create a new product)",
            )
        ]
    return []
