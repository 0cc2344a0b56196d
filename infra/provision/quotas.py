"""AWS size quotas of every generated policy document, budgeted before anything is deployed.

`pulumi up` would otherwise fail half-way through a deployment when a document grows past what
AWS accepts. Each document is sized exactly as the builders in `infra.provision.documents` produce it, with
the longest ARNs any stack could give it (`SIZING_ENV`: the longest commercial region name, a
12-digit account, a KMS key id is always a 36-character UUID), so a mesh that passes here fits in
every stack. What AWS counts:

- IAM: the characters of all inline policies of one role together, whitespace not counted
  (10,240); a role's trust policy alone, whitespace not counted (2,048);
- S3: a bucket policy as sent, 20 KB; KMS: a key policy as sent, 32 KB.

A document at or over its quota is an error (at the blueprint object it belongs to: the domain
for its roles and key, the product for its bucket); one at 90 % or more is warning W007, so the
change after next does not come as a surprise. "At the quota" fails too, one character of margin.

What grows with what, in the Lake-Formation-gated access model: a consumer role's identity policy
is constant (`documents.consumer_policy`, plus the domain's query path `querydocs.query_policy`,
which names only the domain's own workgroup, results bucket and key); a producer and a data-access role grow with the
domain's products; a bucket policy grows with the product's direct-read grants, a key policy
with the domain's. Grants through Lake Formation cost no policy space at all.

Sizing builds no document per domain or product: names are plain ASCII, each a JSON string of its
own, so two documents built from names of the same lengths have the same size, and a list of names
(a domain's buckets, a product's direct readers) adds to a document linearly. `Sizer` builds each
kind of document a few times per combination of name lengths (memoised probes) and sizes every
domain and product from them by arithmetic; `tests/test_policy_quota.py` checks it against the
builders for any names.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from infra.errors import Problem
from infra.model.mesh import Mesh
from infra.provision import documents as docs
from infra.provision import querydocs as query
from infra.provision.documents import AwsEnv, DirectRead
from infra.provision.names import SIZING_ACCOUNT

SIZING_ENV = AwsEnv(account="0" * 12, region="ap-southeast-5")
SIZING_KEY_ARN = f"arn:aws:kms:{SIZING_ENV.region}:{SIZING_ENV.account}:key/{'0' * 36}"
WARN_SHARE = 0.9


@dataclass(frozen=True)
class Quota:
    code: str  # the error when a document reaches it
    limit: int
    unit: str  # what AWS counts

    @property
    def warn_at(self) -> int:
        return int(self.limit * WARN_SHARE)


QUOTAS: dict[str, Quota] = {
    "role": Quota("E036", 10_240, "characters of inline IAM policy (whitespace not counted)"),
    "trust": Quota("E045", 2_048, "characters of trust policy (whitespace not counted)"),
    "bucket": Quota("E038", 20_480, "bytes of bucket policy"),
    "key": Quota("E039", 32_768, "bytes of key policy"),
}


def iam_size(document: dict) -> int:
    """Characters IAM counts against its quotas: the JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def sent_size(document: dict) -> int:
    """Bytes of a resource policy as the components send it (`components._json`)."""
    return len(json.dumps(document, sort_keys=False).encode())


class Sized(NamedTuple):
    """One document's size against its quota, and where it belongs in the blueprints."""

    kind: str  # a key of QUOTAS
    domain: str
    product_index: int | None  # the product a bucket policy belongs to
    subject: str  # what the document is, for the message
    size: int


PROBE_UNTIL = dt.date(2000, 1, 1)  # any date of a 4-digit year sizes every such date


def plain(name: str) -> bool:
    """A name JSON writes as itself between quotes (printable ASCII, no quote or backslash): its
    size in any document is its length."""
    return name.isascii() and name.isprintable() and '"' not in name and "\\" not in name


def _sizable(until: dt.date | None) -> bool:
    """An expiry whose Sid suffix and condition have the probe date's length."""
    return until is None or 1000 <= until.year <= 9998


def _linear(memo, key: tuple, build, items) -> int:
    """The size of `build(items)` for plain names, from three memoised probes: JSON is additive
    over its strings, so each further name costs what a second one-character name costs, and
    each further character what a second character of one name costs."""
    one = memo((*key, 1), lambda: build(("a",)))
    two = memo((*key, 2), lambda: build(("a", "b")))
    longer = memo((*key, "aa"), lambda: build(("aa",)))
    n, chars = len(items), sum(map(len, items))
    return one + (n - 1) * (two - one) + (chars - n) * (longer - one)


def _numbering(count: int) -> int:
    """Characters `DirectReadDecrypt1` .. `DirectReadDecrypt<count>` add beyond one digit each."""
    extra, start = 0, 10
    while start <= count:  # every number from `start` on has one more digit
        extra += count - start + 1
        start *= 10
    return extra


class Sizer:
    """Exact sizes of the documents of a mesh, without building them: a document's size is the
    size of the same document built from names of the same lengths (see the docstring), and a
    list of names (a domain's buckets, a group of direct readers) adds to it linearly. So each
    kind of document is built a bounded number of times, whatever the size of the mesh (memoised
    on name lengths: probes of `_linear`), and every domain's and product's size is arithmetic.
    A name JSON would escape, or an expiry outside years 1000-9998, is sized by building."""

    def __init__(self, names, env: AwsEnv = SIZING_ENV, key_arn: str = SIZING_KEY_ARN) -> None:
        self.names, self.env, self.key_arn = names, env, key_arn
        self._memo: dict[tuple, int] = {}

    def _memo_size(self, key: tuple, build) -> int:
        size = self._memo.get(key)
        if size is None:
            size = self._memo[key] = build()
        return size

    def trust(self, domain: str) -> int:
        return self._memo_size(
            ("trust", len(domain)), lambda: iam_size(docs.trust_policy(self.env, domain))
        )

    def lf_trust(self) -> int:
        return self._memo_size(("lf-trust",), lambda: iam_size(docs.lf_trust_policy(self.env)))

    def consumer(self, domain: str) -> int:
        """Both inline policies of a consumer role: its catalog access and its query path."""
        prefix = self.names.database_prefix()
        return self._memo_size(
            ("consumer", len(prefix)),
            lambda: iam_size(docs.consumer_policy(self.env, prefix)),
        ) + self.query(domain)

    def query(self, domain: str) -> int:
        """The query-path policy each role of `domain` carries (`infra.provision.query`)."""
        path = query.query_path_args(self.names, domain, SIZING_ACCOUNT)
        return self._memo_size(
            ("query", len(path.workgroup), len(path.results_bucket)),
            lambda: iam_size(query.query_policy(self.env, path, self.key_arn)),
        )

    def _buckets(self, kind: str, key: tuple, build, buckets: list[str]) -> int:
        """A role policy over a domain's buckets (none: the bucket statements are left out)."""
        if not buckets:
            return self._memo_size((kind, *key, 0), lambda: build([]))
        if not all(map(plain, buckets)):
            return build(buckets)
        return _linear(self._memo_size, (kind, *key), lambda b: build(list(b)), buckets)

    def producer(self, domain: str, buckets: list[str]) -> int:
        database = self.names.database(domain)
        build = lambda b: iam_size(docs.producer_policy(self.env, database, b, self.key_arn))
        return self._buckets("producer", (len(database),), build, buckets) + self.query(domain)

    def lf_access(self, buckets: list[str]) -> int:
        build = lambda b: iam_size(docs.lf_access_policy(self.env, b, self.key_arn))
        return self._buckets("lf-access", (), build, buckets)

    def _readers_sizable(self, readers) -> bool:
        return all(_sizable(r.until) and all(map(plain, r.roles)) for r in readers)

    def _group(self, kind: str, key: tuple, build, group: DirectRead) -> int:
        """What one group of direct readers (`documents.direct_groups`) adds to a document:
        `build(roles, until)` is the probe document's size with one such group, `build((),
        None)` without any."""
        until = None if group.until is None else PROBE_UNTIL
        empty = self._memo_size((kind, *key, "none"), lambda: build((), None))
        k = (kind, *key, until is None)
        return _linear(self._memo_size, k, lambda roles: build(roles, until), group.roles) - empty

    def bucket(self, bucket: str, readers: tuple[DirectRead, ...]) -> int:
        base = self._memo_size(
            ("bucket", len(bucket)),
            lambda: sent_size(docs.bucket_policy(self.env, bucket, self.key_arn)),
        )
        if not readers:
            return base
        if not (plain(bucket) and self._readers_sizable(readers)):
            return sent_size(docs.bucket_policy(self.env, bucket, self.key_arn, readers))

        def build(roles, until) -> int:
            direct = (DirectRead(tuple(roles), until),) if roles else ()
            return sent_size(docs.bucket_policy(self.env, bucket, self.key_arn, direct))

        key = (len(bucket),)
        return base + sum(
            self._group("bucket-readers", key, build, g) for g in docs.direct_groups(readers)
        )

    def key(self, domain: str, readers: list[tuple[str, DirectRead]]) -> int:
        producer = self.names.role(domain, "producer")
        lf_role = self.names.role(domain, "lf-access")
        results = (
            self.names.role(domain, "consumer"),
            self.names.query_results_bucket(domain, SIZING_ACCOUNT),
        )
        base = self._memo_size(
            ("key", len(producer), len(lf_role), *map(len, results)),
            lambda: sent_size(docs.key_policy(self.env, producer, lf_role, (), results)),
        )
        if not readers:
            return base
        if not all(plain(b) and self._readers_sizable((r,)) for b, r in readers):
            return sent_size(docs.key_policy(self.env, producer, lf_role, readers, results))
        by_bucket: dict[str, list[DirectRead]] = {}
        for bucket, group in readers:
            by_bucket.setdefault(bucket, []).append(group)
        size, statements = base, 0
        for bucket, groups in by_bucket.items():

            def build(roles, until, bucket=bucket) -> int:  # statement DirectReadDecrypt1
                direct = ((bucket, DirectRead(tuple(roles), until)),) if roles else ()
                return sent_size(docs.key_policy(self.env, "p", "l", direct))

            for g in docs.direct_groups(groups):
                size += self._group("key-readers", (len(bucket),), build, g)
                statements += 1
        return size + _numbering(statements)


def document_sizes(mesh: Mesh, names, today: dt.date, sizer: Sizer | None = None) -> list[Sized]:
    """Every generated document of the loaded blueprints, sized."""
    from infra.provision.names import LF_ROLE_KIND, physical_product_name

    sizer = sizer or Sizer(names)
    role_arn = lambda d: sizer.env.role_arn(names.role(d, "consumer"))
    out: list[Sized] = []
    for bp in mesh.blueprints:
        d = bp.domain
        buckets = [names.bucket(d, physical_product_name(p), SIZING_ACCOUNT) for p in bp.products]
        roles = {kind: names.role(d, kind) for kind in ("producer", "consumer", LF_ROLE_KIND)}
        out += [
            Sized("role", d, None, f"role {roles['producer']!r}", sizer.producer(d, buckets)),
            Sized("role", d, None, f"role {roles['consumer']!r}", sizer.consumer(d)),
            Sized("role", d, None, f"role {roles[LF_ROLE_KIND]!r}", sizer.lf_access(buckets)),
            Sized("trust", d, None, f"trust policy of {roles['producer']!r}", sizer.trust(d)),
            Sized("trust", d, None, f"trust policy of {roles['consumer']!r}", sizer.trust(d)),
            Sized("trust", d, None, f"trust policy of {roles[LF_ROLE_KIND]!r}", sizer.lf_trust()),
        ]
        results = names.query_results_bucket(d, SIZING_ACCOUNT)
        out.append(
            Sized("bucket", d, None, f"bucket policy of {results!r}", sizer.bucket(results, ()))
        )
        key_readers = []
        for i, (product, bucket) in enumerate(zip(bp.products, buckets)):
            group = docs.direct_reads(mesh, bp, product, role_arn, today)
            key_readers += [(bucket, r) for r in group]
            out.append(
                Sized("bucket", d, i, f"bucket policy of {bucket!r}", sizer.bucket(bucket, group))
            )
        out.append(Sized("key", d, None, f"key policy of domain {d}", sizer.key(d, key_readers)))
    return out


_ADVICE = {
    "role": "a domain's producer and data-access roles grow with its products (each adds its "
    "bucket's ARNs): split the domain, or shorten product names",
    "trust": "shorten the domain name",
    "bucket": "each direct-read grant adds its role to this bucket policy: fewer grants with "
    "s3_direct (read through Lake Formation needs no policy space)",
    "key": "each direct-read grant adds a statement to the domain's key policy: fewer grants "
    "with s3_direct (read through Lake Formation needs no policy space)",
}


def quota_problems(
    mesh: Mesh,
    names,
    today: dt.date,
    quotas: dict[str, Quota] | None = None,
    sizer: Sizer | None = None,
) -> Iterator[Problem]:
    """An error for every document at or over its quota, W007 from 90 %."""
    quotas = quotas or QUOTAS
    for s in document_sizes(mesh, names, today, sizer):
        quota = quotas[s.kind]
        if s.size < quota.warn_at:
            continue
        src = mesh.source(s.domain)
        loc = ("domain",) if s.product_index is None else ("products", s.product_index, "name")
        share = f"{s.size:,} of the {quota.limit:,} {quota.unit} AWS allows"
        if s.size >= quota.limit:
            yield src.problem(
                loc,
                quota.code,
                f"the {s.subject} needs {s.size:,} {quota.unit}; AWS allows {quota.limit:,} "
                f"(and this check keeps one character of margin): {_ADVICE[s.kind]}",
            )
        else:
            yield src.problem(
                loc,
                "W007",
                f"the {s.subject} needs {share}: a few more will be refused "
                f"({quota.code}); {_ADVICE[s.kind]}",
            )
