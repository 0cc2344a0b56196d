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
own, so a document's size is affine in the lengths of its names and in the number of names in
each of its lists (a domain's buckets, a product's direct readers). `Sizer` builds a few small
probe documents of each kind, once, and sizes every domain and product from them by arithmetic;
`tests/test_policy_quota.py` checks it against the builders for any names.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from infra.errors import Problem
from infra.model.mesh import Mesh
from infra.provision import documents as docs
from infra.provision import querydocs as query
from infra.provision.arns import AwsEnv
from infra.provision.direct_read import DirectRead, direct_groups, direct_reads
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


_PLAIN = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII, except the quote and the backslash


@functools.lru_cache(maxsize=1 << 16)  # a domain's bucket names are asked for three times
def plain(name: str) -> bool:
    """A name JSON writes as itself between quotes (printable ASCII, no quote or backslash): its
    size in any document is its length."""
    return _PLAIN.fullmatch(name) is not None


def _sizable(until: dt.date | None) -> bool:
    """An expiry whose Sid suffix and condition have the probe date's length."""
    return until is None or 1000 <= until.year <= 9998


def _names(count: int, extra: int) -> list[str]:
    """`count` distinct probe names, `extra` characters more than one each in all."""
    return ["a" * (1 + extra), *(chr(ord("b") + i) for i in range(count - 1))]


def _list_axes(names) -> tuple[int, int]:
    """A list of names as the sizer's axes: how many, and their characters beyond one each."""
    return len(names), sum(map(len, names)) - len(names)


def _numbering(count: int) -> int:
    """Characters `DirectReadDecrypt1` .. `DirectReadDecrypt<count>` add beyond one digit each."""
    extra, start = 0, 10
    while start <= count:  # every number from `start` on has one more digit
        extra += count - start + 1
        start *= 10
    return extra


class Sizer:
    """Exact sizes of the documents of a mesh, without building them per domain or product.

    A document's size is affine in the lengths of the names it holds and in the number of names
    in each of its lists (plain names: JSON writes each between quotes, lists separate them by
    commas): `_affine` builds a probe document at an origin and one step along each axis, once
    per kind of document (memoised), and every domain's and product's size is arithmetic from
    those. Lists of direct readers add one group per expiry (`documents.direct_groups`), each
    sized the same way. A name JSON would escape, or an expiry outside years 1000-9998, is sized
    by building its document."""

    def __init__(self, names, env: AwsEnv = SIZING_ENV, key_arn: str = SIZING_KEY_ARN) -> None:
        self.names, self.env, self.key_arn = names, env, key_arn
        self._memo: dict[tuple, int] = {}
        self._coefficients: dict[str, tuple[int, tuple[int, ...]]] = {}

    def _memo_size(self, key: tuple, build) -> int:
        size = self._memo.get(key)
        if size is None:
            size = self._memo[key] = build()
        return size

    def _affine(self, kind: str, build, point: tuple[int, ...], origin: tuple[int, ...]) -> int:
        """`build(axes)` at `point`, from its value at `origin` and one step along each axis
        (built once per kind)."""
        coefficients = self._coefficients.get(kind)
        if coefficients is None:
            base = build(origin)
            steps = tuple(
                build((*origin[:i], o + 1, *origin[i + 1 :])) - base for i, o in enumerate(origin)
            )
            coefficients = self._coefficients[kind] = (base, steps)
        size, steps = coefficients
        for p, o, step in zip(point, origin, steps, strict=True):
            size += (p - o) * step
        return size

    def _line(self, kind: str, build, length: int) -> int:
        """`_affine` along one axis (a name's length) from 1: the hot case of every domain and
        product, without the general case's tuples."""
        coefficients = self._coefficients.get(kind)
        if coefficients is None:
            return self._affine(kind, build, (length,), (1,))
        return coefficients[0] + (length - 1) * coefficients[1][0]

    def trust(self, domain: str) -> int:
        if not plain(domain):
            return iam_size(docs.trust_policy(self.env, domain))
        build = lambda a: iam_size(docs.trust_policy(self.env, "d" * a[0]))
        return self._line("trust", build, len(domain))

    def lf_trust(self) -> int:
        return self._memo_size(("lf-trust",), lambda: iam_size(docs.lf_trust_policy(self.env)))

    def consumer(self, domain: str) -> int:
        """Both inline policies of a consumer role: its catalog access and its query path."""
        prefix = self.names.database_prefix()
        build = lambda a: iam_size(docs.consumer_policy(self.env, "p" * a[0]))
        return self._affine("consumer", build, (len(prefix),), (1,)) + self.query(domain)

    def query(self, domain: str) -> int:
        """The query-path policy each role of `domain` carries (`infra.provision.query`)."""
        return self._memo_size(("query", domain), lambda: self._query(domain))

    def _query(self, domain: str) -> int:
        path = query.query_path_args(self.names, domain, SIZING_ACCOUNT)
        if not (plain(path.workgroup) and plain(path.results_bucket)):
            return iam_size(query.query_policy(self.env, path, self.key_arn))

        def build(a) -> int:
            probe = query.QueryPathArgs("w" * a[0], "r" * a[1])
            return iam_size(query.query_policy(self.env, probe, self.key_arn))

        point = (len(path.workgroup), len(path.results_bucket))
        return self._affine("query", build, point, (1, 1))

    def _buckets(self, kind: str, build, lengths: tuple[int, ...], buckets: list[str]) -> int:
        """A role policy over a domain's buckets (`build(lengths, buckets)`; with none the bucket
        statements are left out, so that is a kind of its own)."""
        if not all(map(plain, buckets)):
            return build(lengths, buckets)
        if not buckets:
            probe = lambda a: build(a, [])
            return self._affine(f"{kind}-none", probe, lengths, (1,) * len(lengths))
        k = len(lengths)
        probe = lambda a: build(a[:k], _names(a[k], a[k + 1]))
        return self._affine(kind, probe, (*lengths, *_list_axes(buckets)), (1,) * k + (1, 0))

    def producer(self, domain: str, buckets: list[str]) -> int:
        database = self.names.database(domain)
        if not plain(database):
            return iam_size(
                docs.producer_policy(self.env, database, buckets, self.key_arn)
            ) + self.query(domain)
        build = lambda a, b: iam_size(docs.producer_policy(self.env, "d" * a[0], b, self.key_arn))
        return self._buckets("producer", build, (len(database),), buckets) + self.query(domain)

    def lf_access(self, buckets: list[str]) -> int:
        build = lambda _a, b: iam_size(docs.lf_access_policy(self.env, b, self.key_arn))
        return self._buckets("lf-access", build, (), buckets)

    def _readers_sizable(self, readers) -> bool:
        return all(_sizable(r.until) and all(map(plain, r.roles)) for r in readers)

    def _group(self, kind: str, build, bucket: str, group: DirectRead) -> int:
        """What one group of direct readers (`documents.direct_groups`) of `bucket` adds to a
        document: `build(bucket, group)` sizes a probe document with that one group, or none."""
        until = None if group.until is None else PROBE_UNTIL
        none = lambda a: build("b" * a[0], None)
        one = lambda a: build("b" * a[0], DirectRead(tuple(_names(a[1], a[2])), until))
        kind = f"{kind}-{'until' if until else 'open'}"
        point = (len(bucket), *_list_axes(group.roles))
        with_group = self._affine(kind, one, point, (1, 1, 0))
        return with_group - self._affine(f"{kind}-none", none, point[:1], (1,))

    def _bucket_alone(self, a) -> int:
        return sent_size(docs.bucket_policy(self.env, "b" * a[0], self.key_arn, ()))

    def bucket(self, bucket: str, readers: tuple[DirectRead, ...]) -> int:
        if not readers and plain(bucket):  # most buckets: no direct reader
            return self._line("bucket", self._bucket_alone, len(bucket))
        if not (plain(bucket) and self._readers_sizable(readers)):
            return sent_size(docs.bucket_policy(self.env, bucket, self.key_arn, readers))

        def build(b: str, group: DirectRead | None) -> int:
            direct = () if group is None else (group,)
            return sent_size(docs.bucket_policy(self.env, b, self.key_arn, direct))

        base = self._line("bucket", self._bucket_alone, len(bucket))
        return base + sum(self._group("bucket", build, bucket, g) for g in direct_groups(readers))

    def key(self, domain: str, readers: list[tuple[str, DirectRead]]) -> int:
        producer = self.names.role(domain, "producer")
        lf_role = self.names.role(domain, "lf-access")
        results = (
            self.names.role(domain, "consumer"),
            self.names.query_results_bucket(domain, SIZING_ACCOUNT),
        )
        if not (
            all(map(plain, (producer, lf_role, *results)))
            and all(plain(b) and self._readers_sizable((r,)) for b, r in readers)
        ):
            return sent_size(docs.key_policy(self.env, producer, lf_role, readers, results))

        def base(a) -> int:
            probe = ("c" * a[2], "r" * a[3])
            return sent_size(docs.key_policy(self.env, "p" * a[0], "l" * a[1], (), probe))

        lengths = (len(producer), len(lf_role), *map(len, results))
        size = self._affine("key", base, lengths, (1, 1, 1, 1))

        def build(b: str, group: DirectRead | None) -> int:  # statement DirectReadDecrypt1
            direct = () if group is None else ((b, group),)
            return sent_size(docs.key_policy(self.env, "p", "l", direct))

        by_bucket: dict[str, list[DirectRead]] = {}
        for bucket, group in readers:
            by_bucket.setdefault(bucket, []).append(group)
        statements = 0
        for bucket, groups in by_bucket.items():
            for g in direct_groups(groups):
                size += self._group("key", build, bucket, g)
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
        trust = sizer.trust(d)  # the producer's and the consumer's: the same document
        out += [
            Sized("role", d, None, f"role {roles['producer']!r}", sizer.producer(d, buckets)),
            Sized("role", d, None, f"role {roles['consumer']!r}", sizer.consumer(d)),
            Sized("role", d, None, f"role {roles[LF_ROLE_KIND]!r}", sizer.lf_access(buckets)),
            Sized("trust", d, None, f"trust policy of {roles['producer']!r}", trust),
            Sized("trust", d, None, f"trust policy of {roles['consumer']!r}", trust),
            Sized("trust", d, None, f"trust policy of {roles[LF_ROLE_KIND]!r}", sizer.lf_trust()),
        ]
        results = names.query_results_bucket(d, SIZING_ACCOUNT)
        out.append(
            Sized("bucket", d, None, f"bucket policy of {results!r}", sizer.bucket(results, ()))
        )
        key_readers = []
        for i, (product, bucket) in enumerate(zip(bp.products, buckets)):
            group = direct_reads(mesh, bp, product, role_arn, today)
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
