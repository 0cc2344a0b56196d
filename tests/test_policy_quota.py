"""AWS's size quotas on every generated policy (`infra.provision.quotas`): sized exactly as deployed,
refused at validate time (file and line) instead of half-way through `pulumi up`, with a
warning from 90 %; and a consumer role whose identity policy never grows with its grants."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from conftest import SINGLE, TODAY
from hypothesis import given, settings
from hypothesis import strategies as st
from resource_types import BUCKET_POLICY, KEY, ROLE, ROLE_POLICY
from typer.testing import CliRunner

from infra.blueprints.load import load_mesh
from infra.cli import app
from infra.engines.recording import run_program
from infra.provision import documents as docs
from infra.provision import names as naming
from infra.provision import querydocs as query
from infra.provision.names import Names
from infra.provision.program import StackSettings
from infra.provision.quotas import (
    QUOTAS,
    SIZING_ENV,
    SIZING_KEY_ARN,
    Sizer,
    document_sizes,
    iam_size,
    quota_problems,
    sent_size,
)

NAMES = Names("mesh")


def _deployed_sizes(graph) -> dict[tuple[str, str], int]:
    """(kind, subject) -> size of every recorded document, measured as AWS counts it."""
    out: dict[tuple[str, str], int] = {}
    for r in graph.by_type(ROLE_POLICY):
        key = ("role", f"role {r.inputs['role']!r}")
        out[key] = out.get(key, 0) + iam_size(json.loads(r.inputs["policy"]))
    for r in graph.by_type(ROLE):
        trust = json.loads(r.inputs["assumeRolePolicy"])
        out[("trust", f"trust policy of {r.inputs['name']!r}")] = iam_size(trust)
    for r in graph.by_type(BUCKET_POLICY):
        out[("bucket", f"bucket policy of {r.inputs['bucket']!r}")] = len(r.inputs["policy"])
    for r in graph.by_type(KEY):
        domain = r.inputs["tags"]["mesh:domain"]
        out[("key", f"key policy of domain {domain}")] = len(r.inputs["policy"])
    return out


def test_sizes_are_those_of_the_deployed_documents():
    """Recorded with the sizing account and region, every role's inline policies, every trust,
    bucket and key policy has exactly the size the quota check computed (the recording mocks'
    key ids are UUIDs, as AWS's)."""
    mesh = load_mesh(SINGLE, today=TODAY).mesh
    settings = StackSettings(account=SIZING_ENV.account, region=SIZING_ENV.region)
    deployed = _deployed_sizes(run_program(mesh, settings, TODAY))
    sized = {(s.kind, s.subject): s.size for s in document_sizes(mesh, NAMES, TODAY)}
    assert sized == deployed
    # role totals, trust policies, buckets (products and query results), keys
    assert len(sized) == 15 + 15 + 10 + 5 + 5


NAME = st.from_regex(r"[a-z][a-z0-9_]{1,30}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    domain=NAME,
    other=NAME,
    product=NAME,
    prefix=st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True),
)
def test_memoised_sizes_equal_the_builders(domain, other, product, prefix):
    """The sizer memoises on name lengths: for any names, what it returns for one name is what
    the builder gives for another of the same length (and for the name itself)."""
    names = Names(prefix)
    sizer = Sizer(names)
    bucket = names.bucket(domain, product)
    same_length = "x" * len(bucket)
    assert sizer.bucket(same_length, ()) == sent_size(
        docs.bucket_policy(SIZING_ENV, same_length, SIZING_KEY_ARN)
    )
    assert sizer.bucket(bucket, ()) == sent_size(
        docs.bucket_policy(SIZING_ENV, bucket, SIZING_KEY_ARN)
    )
    for d in (domain, "y" * len(domain)):
        assert sizer.trust(d) == iam_size(docs.trust_policy(SIZING_ENV, d))
        results = (names.role(d, "consumer"), names.query_results_bucket(d))
        assert sizer.key(d, []) == sent_size(
            docs.key_policy(
                SIZING_ENV, names.role(d, "producer"), names.role(d, "lf-access"), (), results
            )
        )
        # the consumer role: its catalog policy and its domain's query path, whatever it reads
        path = query.query_path_args(names, d)
        assert sizer.consumer(d) == iam_size(
            docs.consumer_policy(SIZING_ENV, names.database_prefix())
        ) + iam_size(query.query_policy(SIZING_ENV, path, SIZING_KEY_ARN))
    readers = (docs.DirectRead((SIZING_ENV.role_arn(names.role(other, "consumer")),), TODAY),)
    assert sizer.bucket(bucket, readers) == sent_size(
        docs.bucket_policy(SIZING_ENV, bucket, SIZING_KEY_ARN, readers)
    )


BUCKET = st.from_regex(r"[a-z0-9][a-z0-9.-]{2,62}", fullmatch=True)
# role ARNs as the direct readers name them; now and then one JSON escapes (sized by building)
ROLE_ARN = st.one_of(
    st.from_regex(r"arn:aws:iam::[0-9]{12}:role/[a-z][a-z0-9_-]{0,60}", fullmatch=True),
    st.text(alphabet='ab"\\\u00e9\n', min_size=1, max_size=4),
)
UNTIL = st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))


def _reference(sizer: Sizer, names: Names, domain: str) -> tuple:
    """The builders' sizes of a domain's role policies, and of a bucket and key policy."""
    env, key_arn = SIZING_ENV, SIZING_KEY_ARN
    results = (names.role(domain, "consumer"), names.query_results_bucket(domain))
    return (
        lambda b: (
            iam_size(docs.producer_policy(env, names.database(domain), b, key_arn))
            + sizer.query(domain)
        ),
        lambda b: iam_size(docs.lf_access_policy(env, b, key_arn)),
        lambda b, r: sent_size(docs.bucket_policy(env, b, key_arn, r)),
        lambda r: sent_size(
            docs.key_policy(
                env, names.role(domain, "producer"), names.role(domain, "lf-access"), r, results
            )
        ),
    )


@settings(max_examples=150, deadline=None)
@given(
    domain=NAME,
    buckets=st.lists(BUCKET, max_size=12),
    readers=st.lists(
        st.tuples(st.integers(0, 11), st.lists(ROLE_ARN, min_size=1, max_size=3), UNTIL),
        max_size=30,
    ),
)
def test_sizes_without_building_equal_the_builders(domain, buckets, readers):
    """Every document the sizer sizes by arithmetic (a domain's buckets in its producer and
    data-access role policies, direct readers grouped by expiry in bucket and key policies) has
    the size its builder's document has, for any names, any number of them and any expiries."""
    names = Names("mesh")
    sizer = Sizer(names)
    producer, lf_access, bucket_policy, key_policy = _reference(sizer, names, domain)
    assert sizer.producer(domain, buckets) == producer(buckets)
    assert sizer.lf_access(buckets) == lf_access(buckets)
    pool = buckets or ["mesh-shop-sales"]
    direct = [
        (pool[i % len(pool)], docs.DirectRead(tuple(roles), until)) for i, roles, until in readers
    ]
    for b in pool:
        mine = tuple(r for name, r in direct if name == b)
        assert sizer.bucket(b, mine) == bucket_policy(b, mine)
    assert sizer.key(domain, direct) == key_policy(direct)


def test_key_policies_of_hundreds_of_reader_groups_are_sized_exactly():
    """Statements DirectReadDecrypt1 .. 150: the Sid's number grows a digit at 10 and at 100."""
    names, sizer = Names("mesh"), Sizer(Names("mesh"))
    *_, key_policy = _reference(sizer, names, "shop")
    for count in (9, 10, 99, 100, 150):
        direct = [
            (f"mesh-shop-t{i % 7}", docs.DirectRead((f"arn:aws:iam::1:role/r{i}",), until))
            for i in range(count)
            for until in [TODAY + dt.timedelta(days=i // 7)]
        ]
        assert sizer.key("shop", direct) == key_policy(direct)
    assert len(docs.key_policy(SIZING_ENV, "p", "l", direct)["Statement"]) == 3 + 150


def test_sizing_builds_a_bounded_number_of_documents(monkeypatch, tmp_path):
    """The sizer builds a few probe documents of each kind, not one per domain or product: a
    mesh of 60 producing domains costs the builds one of 5 costs, and sizing again with the
    same sizer builds nothing."""
    built = []
    for name in ("producer_policy", "lf_access_policy", "bucket_policy", "key_policy"):
        real = getattr(docs, name)
        monkeypatch.setattr(
            docs,
            name,
            lambda *a, _real=real, _name=name, **k: built.append(_name) or _real(*a, **k),
        )
    counts = []
    for n in (5, 60):
        mesh = load_mesh(_hub(tmp_path / f"hub{n}", n), today=TODAY).mesh
        sizer, built[:] = Sizer(NAMES), []
        sized = document_sizes(mesh, NAMES, TODAY, sizer)
        counts.append(len(built))
        assert document_sizes(mesh, NAMES, TODAY, sizer) == sized
        assert len(built) == counts[-1]  # memoised: sized by arithmetic
    assert counts[0] == counts[1] < 20, counts


def test_iam_size_ignores_whitespace():
    assert iam_size({"a": [1, 2], "b": "x y"}) == len('{"a":[1,2],"b":"x y"}')


def _blueprint(domain: str, products: list[dict]) -> dict:
    return {
        "domain": domain,
        "description": f"The {domain} domain",
        "owner": {"team": f"{domain}-data".replace("_", "-"), "email": f"{domain}@example.com"},
        "cost_center": "CC-1",
        "products": products,
    }


def _product(name: str, consumers: list[str] = (), s3_direct: bool = False) -> dict:
    return {
        "name": name,
        "description": "One row per item sold in the web shop",
        "classification": "internal",
        "format": "parquet",
        "retention_days": 365,
        "schema": [{"name": "id", "type": "string"}],
        "consumers": [
            {
                "domain": c,
                "justification": "reporting",
                **({"s3_direct": True} if s3_direct else {}),
            }
            for c in consumers
        ],
    }


def _write(directory: Path, *bps: dict) -> Path:
    directory.mkdir(parents=True)
    for bp in bps:
        (directory / f"{bp['domain']}.yaml").write_text(yaml.safe_dump(bp, sort_keys=False))
    return directory


def _hub(directory: Path, producers: int) -> Path:
    """`producers` domains, each granting one whole table to `hub`."""
    bps = [_blueprint(f"shop_{i:04d}", [_product("sales", ["hub"])]) for i in range(producers)]
    return _write(directory, _blueprint("hub", []), *bps)


def test_a_consumer_role_policy_does_not_grow_with_its_grants(tmp_path):
    """The hub's consumer role carries the same document, byte for byte, whether 5 or 60
    domains grant it a whole table; the grants are Lake Formation permissions only."""
    policies = {}
    for n in (5, 60):
        loaded = load_mesh(_hub(tmp_path / f"hub{n}", n), today=TODAY)
        assert loaded.errors == []
        mesh = loaded.mesh
        graph = run_program(mesh, StackSettings(), TODAY)
        # its catalog policy and its query path (its own workgroup, results bucket and key)
        key_arn = graph.get(KEY, "hub-key").outputs["arn"]
        policies[n] = sorted(
            (r.inputs["name"], r.inputs["policy"].replace(key_arn, "<hub key>"))
            for r in graph.by_type(ROLE_POLICY)
            if r.inputs["role"] == "mesh-hub-consumer"
        )
        assert [name for name, _ in policies[n]] == ["mesh-consumer-access", "mesh-query-path"]
        grants = [
            r for r in graph.by_type("aws:lakeformation/permissions:Permissions")
            if r.inputs["principal"].endswith(":role/mesh-hub-consumer")
            and r.inputs.get("database") != {"name": "default"}
        ]  # fmt: skip
        assert len(grants) == n
        assert check_names(mesh, NAMES, TODAY) == []
    assert policies[5] == policies[60]


def _sized(mesh, kind: str, subject: str) -> int:
    [size] = [
        s.size for s in document_sizes(mesh, NAMES, TODAY) if (s.kind, s.subject) == (kind, subject)
    ]
    return size


@pytest.mark.parametrize(
    "kind, subject, code, loc",
    [
        ("role", "role 'mesh-shop-producer'", "E036", ("shop.yaml", 1, "domain")),
        ("role", "role 'mesh-hub-consumer'", "E036", ("hub.yaml", 1, "domain")),
        ("trust", "trust policy of 'mesh-shop-lf-access'", "E045", ("shop.yaml", 1, "domain")),
        (
            "bucket",
            "bucket policy of 'mesh-shop-sales'",
            "E038",
            ("shop.yaml", 8, "products[0].name"),
        ),
        ("key", "key policy of domain shop", "E039", ("shop.yaml", 1, "domain")),
    ],
)
def test_every_quota_at_its_exact_boundary(tmp_path, kind, subject, code, loc):
    """One character under the quota passes (with the 90 % warning), at the quota and over it
    is the quota's error, located at the blueprint object the document belongs to."""
    directory = _write(
        tmp_path / "mesh",
        _blueprint("hub", []),
        _blueprint("shop", [_product("sales", ["hub"], s3_direct=True)]),
    )
    mesh = load_mesh(directory, today=TODAY).mesh
    size = _sized(mesh, kind, subject)

    def found(limit: int) -> list[tuple]:
        quotas = {**QUOTAS, kind: dataclasses.replace(QUOTAS[kind], limit=limit)}
        return [
            (p.code, Path(p.file).name, p.line, p.path)
            for p in quota_problems(mesh, NAMES, TODAY, quotas)
            if subject in p.message
        ]

    assert found(size + 1) == [("W007", *loc)]
    assert found(size) == [(code, *loc)]
    assert found(size - 1) == [(code, *loc)]
    assert found(int(size / 0.9) + 2) == []  # below 90 %: nothing


def test_a_producer_role_over_the_iam_quota_is_refused_at_the_domain(tmp_path):
    """The producer and data-access roles grow with the domain's products (two ARNs per
    bucket): real quota, through the CLI."""
    products = [_product(f"table_{i:04d}") for i in range(140)]
    directory = _write(tmp_path / "mesh", _blueprint("shop", products))
    result = CliRunner().invoke(app, ["validate", str(directory), "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert {(e["code"], Path(e["file"]).name, e["line"], e["path"]) for e in doc["errors"]} == {
        ("E036", "shop.yaml", 1, "domain")
    }
    messages = sorted(e["message"] for e in doc["errors"])
    assert [m.split(" needs ")[0] for m in messages] == [
        "the role 'mesh-shop-lf-access'",
        "the role 'mesh-shop-producer'",
    ]
    assert all(
        "characters of inline IAM policy (whitespace not counted); AWS allows 10,240" in m
        for m in messages
    )


def test_direct_readers_over_the_bucket_quota_are_refused_at_the_product(tmp_path):
    """Every opted-in reader is named in the product's bucket policy: 20 KB hold about 150 of
    them. Grants through Lake Formation alone cost nothing, however many."""
    readers = [f"team_{i:04d}" for i in range(200)]
    bps = [_blueprint(r, []) for r in readers]
    shop = _blueprint("shop", [_product("sales", readers, s3_direct=True), _product("lf", readers)])
    directory = _write(tmp_path / "mesh", shop, *bps)
    result = CliRunner().invoke(app, ["validate", str(directory), "--format", "json"])
    doc = json.loads(result.stdout)
    codes = sorted((e["code"], Path(e["file"]).name, e["path"]) for e in doc["errors"])
    assert codes == [("E038", "shop.yaml", "products[0].name")], codes
    assert result.exit_code == 1


def test_expired_direct_grants_do_not_count(tmp_path):
    readers = [f"team_{i:04d}" for i in range(200)]
    shop = _blueprint("shop", [_product("sales", readers, s3_direct=True)])
    for consumer in shop["products"][0]["consumers"][:150]:
        consumer["expires"] = "2026-01-31"
    directory = _write(tmp_path / "mesh", shop, *[_blueprint(r, []) for r in readers])
    mesh = load_mesh(directory, today=TODAY).mesh
    assert [p.code for p in check_names(mesh, NAMES, TODAY)] == []


def check_names(mesh, names, today):
    """What `mesh validate` checks before a deploy: the physical names and the sizes."""
    return [*naming.check_names(mesh, names), *quota_problems(mesh, names, today)]
