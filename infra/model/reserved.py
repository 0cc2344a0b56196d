"""Words Athena reserves, which a table or column name should not be.

Glue's API accepts any of them (the program creates tables through it, not through DDL), so the
table gets created; the trouble comes later, to every consumer:

- ``SELECT_RESERVED`` (error E035): reserved in Athena's SQL (engine v3 = Trino). An unquoted
  ``SELECT order FROM sales.orders`` fails to parse; every query, view and BI tool must write
  ``"order"``. Source: the reserved keywords of Trino (trino.io/docs/current/language/reserved.html),
  which is the "reserved keywords in SQL SELECT statements" list of the Athena user guide
  (docs.aws.amazon.com/athena/latest/ug/reserved-words.html).
- ``DDL_RESERVED`` (warning W004): reserved only in Athena's Hive DDL (CREATE/ALTER TABLE, ADD
  PARTITION), where it needs backticks. Queries work unquoted (``date``, ``timestamp``, ``user``
  are ordinary identifiers in SELECT), so this is a warning: hand-written DDL, such as adding a
  partition by key, must quote the name. Source: the "reserved keywords in DDL statements" list of
  the same Athena page (its ``CASHE`` is read as ``cache``; typo variants of other words dropped).

Names here are lower case: blueprint names are lower case by their pattern.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SELECT_RESERVED: frozenset[str] = _words(
    """
    alter and as between by case cast constraint create cross cube current_catalog current_date
    current_path current_role current_schema current_time current_timestamp current_user
    deallocate delete describe distinct drop else end escape except execute exists extract false
    for from full group grouping having in inner insert intersect into is join json_array
    json_exists json_object json_query json_table json_value left like listagg localtime
    localtimestamp natural normalize not null on or order outer prepare recursive right rollup
    select skip table then trim true uescape union unnest using values when where with
    """
)

DDL_RESERVED: frozenset[str] = _words(
    """
    all alter and array as authorization between bigint binary boolean both by case cache cast
    char column conf constraint commit create cross cube current current_date current_timestamp
    cursor database date dayofweek decimal delete describe distinct div double drop else end
    exchange exists extended external extract false fetch float floor following for foreign from
    full function grant group grouping having if import in inner insert int integer intersect
    interval into is join lateral left less like local macro map more none not null numeric of on
    only or order out outer over partialscan partition percent preceding precision preserve
    primary procedure range reads reduce regexp references revoke right rlike rollback rollup row
    rows select set smallint start table tablesample then time timestamp to transform trigger
    true truncate unbounded union uniquejoin update user using utc_timestamp values varchar views
    when where window with
    """
)


def reserved_in(name: str) -> str | None:
    """ "select" when `name` breaks unquoted queries, "ddl" when only DDL, None when free."""
    if name in SELECT_RESERVED:
        return "select"
    if name in DDL_RESERVED:
        return "ddl"
    return None
