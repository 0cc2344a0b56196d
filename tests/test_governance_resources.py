"""Resource-level governance: the sample mesh's recorded graph complies; one mutation per case
violates exactly the expected policy at the expected resource."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from collections.abc import Callable

import pytest
from conftest import SAMPLE, TODAY

from infra.blueprints.load import load_mesh
from infra.engines.recording import Recorded, run_program
from infra.governance import catalogue as cat
from infra.governance.evaluate import (
    check_resources,
    govern_resources,
    graph_from_recorded,
    resource_findings,
)
from infra.governance.findings import resource_finding
from infra.governance.graph_index import Graph, GraphReadError, kept
from infra.governance.graph_rules import BUCKET_RULES, BUCKET_RULES_READ, GRAPH_RULES, check_graph
from infra.governance.resource_rules import (
    BUCKET,
    BUCKET_POLICY,
    GRANT_COMPONENT,
    KEY,
    LF_DATA_FILTER,
    LF_PERMISSIONS,
    LIFECYCLE,
    OWNERSHIP,
    PUBLIC_ACCESS_BLOCK,
    ROLE,
    ROLE_POLICY,
    SSE,
    TABLE,
)
from infra.model.mesh import Mesh
from infra.model.spec import PolicyException
from infra.provision.program import StackSettings


@functools.cache
def sample_graph() -> tuple[Mesh, list[Recorded]]:
    """The sample mesh and its recorded resources, run once for every governance test module
    (tests copy before they mutate)."""
    mesh = load_mesh(SAMPLE, today=TODAY).mesh
    return mesh, run_program(mesh, StackSettings(), TODAY).resources


@pytest.fixture
def sample():
    return sample_graph()


def _find(resources: list[Recorded], type_: str, name: str) -> Recorded:
    for r in resources:
        if r.type == type_ and r.name == name:
            return r
    raise KeyError(f"{type_} {name}")


def _doc(r: Recorded, key: str, change: Callable[[dict], None]) -> None:
    doc = json.loads(r.inputs[key])
    change(doc)
    r.inputs[key] = json.dumps(doc)


def _add_statement(statement: dict) -> Callable[[dict], None]:
    return lambda doc: doc["Statement"].append(statement)


def _set(*path, value) -> Callable[[Recorded], None]:
    def change(r: Recorded) -> None:
        target = r.inputs
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


DELETE = object()
SSE_T, LIFECYCLE_T = SSE[0], LIFECYCLE[0]
ORDERS_BUCKET = "arn:aws:s3:::mesh-sales-orders"
MARKETING_CONSUMER = "arn:aws:iam::123456789012:role/mesh-marketing-consumer"


def _remove(resources: list[Recorded], type_: str, name: str) -> None:
    resources.remove(_find(resources, type_, name))


def _add_grant(name: str) -> Callable[[list[Recorded]], None]:
    def change(resources: list[Recorded]) -> None:
        grant = copy.deepcopy(_find(resources, GRANT_COMPONENT, "sales.orders@marketing"))
        grant.name = name
        grant.urn = f"{grant.urn.rpartition('::')[0]}::{name}"
        resources.append(grant)

    return change


# (id, mutation of one resource or of the list, [(policy, type, name)] expected exactly)
Mutation = tuple[str, str, Callable]
CASES: dict[str, tuple[list[Mutation] | Callable, list[tuple[str, str, str]]]] = {
    "owner-tag": (
        [(BUCKET, "sales.orders-bucket", _set("tags", "mesh:owner", value=DELETE))],
        [("GOV-001", BUCKET, "sales.orders-bucket")],
    ),
    "owner-parameter": (
        [(TABLE, "sales.orders-table", _set("parameters", "mesh:owner", value=DELETE))],
        [("GOV-001", TABLE, "sales.orders-table")],
    ),
    "key-description": (
        [(KEY, "sales-key", _set("description", value=""))],
        [("GOV-002", KEY, "sales-key")],
    ),
    "table-description": (
        [(TABLE, "sales.orders-table", _set("description", value="TODO"))],
        [("GOV-002", TABLE, "sales.orders-table")],
    ),
    "pii-through-lake-formation": (
        [
            (  # the grant's data cells filter lets the PII column through
                LF_DATA_FILTER,
                "sales.orders@marketing-data-filter",
                _set(
                    "tableData",
                    "columnNames",
                    value=["amount", "customer_email", "order_date", "order_id"],
                ),
            )
        ],
        [("GOV-003", LF_PERMISSIONS, "sales.orders@marketing-lakeformation")],
    ),
    "pii-through-s3-around-columns": (
        [
            (
                BUCKET_POLICY,
                "sales.orders-policy",
                lambda r: _doc(
                    r,
                    "policy",
                    _add_statement(
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": [MARKETING_CONSUMER]},
                            "Action": "s3:GetObject",
                            "Resource": f"{ORDERS_BUCKET}/data/*",
                        }
                    ),
                ),
            )
        ],
        [
            ("GOV-003", BUCKET_POLICY, "sales.orders-policy"),
            ("GOV-013", BUCKET_POLICY, "sales.orders-policy"),  # no grant opts into it
        ],
    ),
    "pii-through-a-consumer-identity-policy": (
        [
            (
                ROLE_POLICY,
                "marketing-consumer-access",
                lambda r: _doc(
                    r,
                    "policy",
                    _add_statement(
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": f"{ORDERS_BUCKET}/*",
                        }
                    ),
                ),
            )
        ],
        [
            ("GOV-003", ROLE_POLICY, "marketing-consumer-access"),
            ("GOV-013", ROLE_POLICY, "marketing-consumer-access"),
        ],
    ),
    "restricted-table-granted": (
        [
            (
                TABLE,
                "finance.invoices-table",
                _set("parameters", "mesh:classification", value="restricted"),
            )
        ],
        [("GOV-004", LF_PERMISSIONS, "finance.invoices@analytics-lakeformation")],
    ),
    "restricted-bucket-readable": (
        [
            (
                BUCKET,
                "finance.revenue_daily-bucket",
                _set("tags", "mesh:classification", value="restricted"),
            )
        ],
        [("GOV-004", BUCKET_POLICY, "finance.revenue_daily-policy")],
    ),
    "lifecycle-too-long": (
        [
            (
                LIFECYCLE_T,
                "sales.orders-lifecycle",
                lambda r: r.inputs["rules"][0].update(expiration={"days": 5000.0}),
            )
        ],
        [("GOV-006", LIFECYCLE_T, "sales.orders-lifecycle")],
    ),
    "lifecycle-disabled": (
        [
            (
                LIFECYCLE_T,
                "sales.orders-lifecycle",
                lambda r: r.inputs["rules"][0].update(status="Disabled"),
            )
        ],
        [("GOV-006", LIFECYCLE_T, "sales.orders-lifecycle")],
    ),
    "lifecycle-missing": (
        lambda rs: _remove(rs, LIFECYCLE_T, "sales.orders-lifecycle"),
        [("GOV-006", BUCKET, "sales.orders-bucket")],
    ),
    "table-retention": (
        [(TABLE, "sales.orders-table", _set("parameters", "mesh:retention_days", value="10"))],
        [("GOV-006", TABLE, "sales.orders-table")],
    ),
    "table-freshness": (
        [
            (
                TABLE,
                "sales.orders-table",
                _set("parameters", "mesh:freshness_slo_hours", value=DELETE),
            )
        ],
        [("GOV-007", TABLE, "sales.orders-table")],
    ),
    "sse-s3-not-kms": (
        [
            (
                SSE_T,
                "sales.orders-encryption",
                lambda r: r.inputs["rules"][0]["applyServerSideEncryptionByDefault"].update(
                    sseAlgorithm="AES256"
                ),
            )
        ],
        [("GOV-008", SSE_T, "sales.orders-encryption")],
    ),
    "sse-other-domain-key": (
        [
            (
                SSE_T,
                "sales.orders-encryption",
                lambda r: r.inputs["rules"][0]["applyServerSideEncryptionByDefault"].update(
                    kmsMasterKeyId="arn:aws:kms:eu-west-1:123456789012:key/other"
                ),
            )
        ],
        [("GOV-008", SSE_T, "sales.orders-encryption")],
    ),
    "sse-missing": (
        lambda rs: _remove(rs, SSE_T, "sales.orders-encryption"),
        [("GOV-008", BUCKET, "sales.orders-bucket")],
    ),
    "key-rotation-off": (
        [(KEY, "sales-key", _set("enableKeyRotation", value=False))],
        [("GOV-008", KEY, "sales-key")],
    ),
    "public-access-block-partial": (
        [
            (
                PUBLIC_ACCESS_BLOCK,
                "sales.orders-public-access-block",
                _set("blockPublicPolicy", value=False),
            )
        ],
        [("GOV-009", PUBLIC_ACCESS_BLOCK, "sales.orders-public-access-block")],
    ),
    "public-access-block-missing": (
        lambda rs: _remove(rs, PUBLIC_ACCESS_BLOCK, "sales.orders-public-access-block"),
        [("GOV-009", BUCKET, "sales.orders-bucket")],
    ),
    "public-acl": (
        [(BUCKET, "sales.orders-bucket", _set("acl", value="public-read"))],
        [("GOV-009", BUCKET, "sales.orders-bucket")],
    ),
    "acls-enabled": (
        [
            (
                OWNERSHIP,
                "sales.orders-ownership",
                _set("rule", "objectOwnership", value="ObjectWriter"),
            )
        ],
        [("GOV-009", OWNERSHIP, "sales.orders-ownership")],
    ),
    "public-bucket-policy": (
        [
            (
                BUCKET_POLICY,
                "sales.orders-policy",
                lambda r: _doc(
                    r,
                    "policy",
                    _add_statement(
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": f"{ORDERS_BUCKET}/*",
                        }
                    ),
                ),
            )
        ],
        [
            ("GOV-009", BUCKET_POLICY, "sales.orders-policy"),
            ("GOV-013", BUCKET_POLICY, "sales.orders-policy"),  # "*" is not a mesh role
        ],
    ),
    "public-trust-policy": (
        [
            (
                ROLE,
                "sales-consumer",
                lambda r: _doc(
                    r,
                    "assumeRolePolicy",
                    lambda d: d["Statement"][0].update(Principal={"AWS": "*"}),
                ),
            )
        ],
        [("GOV-009", ROLE, "sales-consumer")],
    ),
    "no-tls-statement": (
        [
            (
                BUCKET_POLICY,
                "sales.orders-policy",
                lambda r: _doc(
                    r,
                    "policy",
                    lambda d: d.update(
                        Statement=[s for s in d["Statement"] if s["Sid"] != "DenyInsecureTransport"]
                    ),
                ),
            )
        ],
        [("GOV-010", BUCKET_POLICY, "sales.orders-policy")],
    ),
    "bucket-policy-missing": (
        lambda rs: _remove(rs, BUCKET_POLICY, "sales.orders-policy"),
        [("GOV-010", BUCKET, "sales.orders-bucket")],
    ),
    "untagged-role": (
        [(ROLE, "sales-producer", _set("tags", "cost-center", value=DELETE))],
        [("GOV-011", ROLE, "sales-producer")],
    ),
    "wildcard-action": (
        [
            (
                ROLE_POLICY,
                "sales-producer-access",
                lambda r: _doc(
                    r,
                    "policy",
                    _add_statement(
                        {"Effect": "Allow", "Action": "s3:*", "Resource": f"{ORDERS_BUCKET}/*"}
                    ),
                ),
            )
        ],
        [("GOV-012", ROLE_POLICY, "sales-producer-access")],
    ),
    "wildcard-resource": (
        [
            (
                ROLE_POLICY,
                "sales-producer-access",
                lambda r: _doc(
                    r,
                    "policy",
                    _add_statement(
                        {
                            "Effect": "Allow",
                            "Action": ["glue:DeleteTable", "lakeformation:GetDataAccess"],
                            "Resource": "*",
                        }
                    ),
                ),
            )
        ],
        [("GOV-012", ROLE_POLICY, "sales-producer-access")],
    ),
    "data-by-wildcard": (
        [
            (
                ROLE_POLICY,
                "sales-producer-access",
                lambda r: _doc(
                    r,
                    "policy",
                    _add_statement(
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::mesh-sales-*/*",
                        }
                    ),
                ),
            )
        ],
        [("GOV-012", ROLE_POLICY, "sales-producer-access")],
    ),
    "not-action": (
        [
            (
                ROLE_POLICY,
                "sales-producer-access",
                lambda r: _doc(
                    r,
                    "policy",
                    _add_statement(
                        {"Effect": "Allow", "NotAction": "iam:*", "Resource": f"{ORDERS_BUCKET}/*"}
                    ),
                ),
            )
        ],
        [("GOV-012", ROLE_POLICY, "sales-producer-access")],
    ),
    "key-policy-wildcard-action": (
        [
            (
                KEY,
                "sales-key",
                lambda r: _doc(r, "policy", lambda d: d["Statement"][0].update(Action="kms:*")),
            )
        ],
        [("GOV-012", KEY, "sales-key")],
    ),
    "grant-to-unknown-role": (
        [
            (
                LF_PERMISSIONS,
                "sales.orders@marketing-lakeformation",
                _set("principal", value="arn:aws:iam::123456789012:role/intruder"),
            )
        ],
        [("GOV-013", LF_PERMISSIONS, "sales.orders@marketing-lakeformation")],
    ),
    "role-policy-on-unknown-role": (
        [(ROLE_POLICY, "marketing-consumer-access", _set("role", value="intruder"))],
        [("GOV-013", ROLE_POLICY, "marketing-consumer-access")],
    ),
    "undeclared-grant": (
        _add_grant("sales.returns@finance"),
        [("GOV-013", GRANT_COMPONENT, "sales.returns@finance")],
    ),
    "grant-to-unknown-domain": (
        _add_grant("sales.returns@billing"),
        [("GOV-013", GRANT_COMPONENT, "sales.returns@billing")],
    ),
}


def mutate(resources: list[Recorded], mutation) -> list[Recorded]:
    resources = copy.deepcopy(resources)
    if callable(mutation):
        mutation(resources)
    else:
        for type_, name, change in mutation:
            change(_find(resources, type_, name))
    return resources


def found(resources, mesh: Mesh | None, today: dt.date = TODAY) -> list[tuple[str, str, str]]:
    return [
        (f.policy, f.resource_type, f.resource_name)
        for f in check_resources(resources, mesh, today)
    ]


def test_sample_graph_complies(sample):
    mesh, resources = sample
    assert found(resources, mesh) == []
    assert found(resources, None) == []  # and without the blueprints (CrossGuard's case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_violation(sample, case):
    mesh, resources = sample
    mutation, expected = CASES[case]
    assert found(mutate(resources, mutation), mesh) == sorted(expected)


def test_every_resource_policy_has_a_violating_case():
    violated = {e[0] for _, expected in CASES.values() for e in expected}
    violated.add("GOV-005")  # test_expired_grant_still_provisioned
    resource_level = {p.id for p in cat.CATALOGUE if cat.Level.resource in p.levels}
    assert resource_level == violated


def test_expired_grant_still_provisioned(sample):
    """The graph of today, checked on the day after sales.orders@logistics expires."""
    mesh, resources = sample
    assert found(resources, mesh, dt.date(2027, 3, 31)) == []
    assert found(resources, mesh, dt.date(2027, 4, 1)) == [
        ("GOV-005", GRANT_COMPONENT, "sales.orders@logistics")
    ]


def _with_exception(mesh: Mesh, domain: str, exception: PolicyException) -> Mesh:
    blueprints = tuple(
        bp.model_copy(update={"exceptions": [exception]}) if bp.domain == domain else bp
        for bp in mesh.blueprints
    )
    return Mesh(blueprints, mesh.sources)


def test_an_exception_waives_resource_findings_until_its_expiry(sample):
    mesh, resources = sample
    bad = mutate(resources, CASES["restricted-table-granted"][0])
    exception = PolicyException(
        policy="GOV-004",
        product="invoices",
        justification="auditors reconcile invoices for one quarter",
        expires=dt.date(2027, 2, 28),
    )
    waived = _with_exception(mesh, "finance", exception)
    report = govern_resources(bad, waived, dt.date(2027, 2, 28))
    assert report.findings == []
    assert [(f.policy, f.resource_name) for f in report.waived] == [
        ("GOV-004", "finance.invoices@analytics-lakeformation")
    ]
    assert found(bad, waived, dt.date(2027, 3, 1)) == [
        ("GOV-004", LF_PERMISSIONS, "finance.invoices@analytics-lakeformation")
    ]


def test_an_exception_waives_a_direct_read_finding_of_its_product(sample):
    """A finding on a bucket policy belongs to the product of the bucket: that product's
    exception waives it, another product's does not."""
    mesh, resources = sample
    bad = mutate(resources, CASES["restricted-bucket-readable"][0])
    exception = PolicyException(
        policy="GOV-004",
        product="revenue_daily",
        justification="board reporting for one quarter",
        expires=dt.date(2027, 2, 28),
    )
    waived = _with_exception(mesh, "finance", exception)
    report = govern_resources(bad, waived, dt.date(2027, 2, 28))
    assert report.findings == []
    assert [(f.policy, f.resource_name, f.product) for f in report.waived] == [
        ("GOV-004", "finance.revenue_daily-policy", "finance.revenue_daily"),
    ]
    other = exception.model_copy(update={"product": "invoices"})
    assert found(bad, _with_exception(mesh, "finance", other), dt.date(2027, 2, 28)) == [
        ("GOV-004", BUCKET_POLICY, "finance.revenue_daily-policy"),
    ]


def test_the_consumer_policy_is_not_a_wildcard_on_data(sample):
    """The consumer role reads the catalog by database prefix and asks for credentials on "*":
    both are the named cases of GOV-012. The same prefix on an S3 or KMS action is not."""
    mesh, resources = sample
    assert found(resources, mesh) == []
    bad = copy.deepcopy(resources)

    def widen(doc):
        statement = doc["Statement"][0]
        statement["Action"] = [*statement["Action"], "glue:DeleteTable"]

    _doc(_find(bad, ROLE_POLICY, "marketing-consumer-access"), "policy", widen)
    assert found(bad, mesh) == [("GOV-012", ROLE_POLICY, "marketing-consumer-access")]


def test_non_waivable_policies_ignore_exceptions(sample):
    mesh, resources = sample
    bad = mutate(resources, CASES["key-rotation-off"][0])
    exception = PolicyException(
        policy="GOV-008", product="orders", justification="no", expires=dt.date(2027, 1, 1)
    )
    assert found(bad, _with_exception(mesh, "sales", exception)) == [("GOV-008", KEY, "sales-key")]


def test_findings_name_their_product(sample):
    mesh, resources = sample
    bad = mutate(resources, CASES["table-retention"][0])
    (f,) = check_resources(bad, mesh, TODAY)
    assert f.product == "sales.orders"
    assert f.message == "retention of 10 days is outside 90..3650 days for confidential data"
    assert f.to_problem().as_json() == {
        "file": TABLE,
        "line": None,
        "path": "sales.orders-table",
        "code": "GOV-006",
        "message": f.message,
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_graph_rules_find_the_same_on_what_they_read(sample, case):
    """The whole-mesh plan keeps in its parent only what the graph rules read (`kept`), and
    runs the resource rules and the bucket rules where the resources are whole (each stack's
    slice): the same findings, in every case."""
    mesh, resources = sample
    mutation, expected = CASES[case]
    whole = graph_from_recorded(mutate(resources, mutation))
    checked = list(resource_findings(whole))
    report = govern_resources(
        Graph(k for r in whole.resources if (k := kept(r))), mesh, TODAY, checked
    )
    assert report == govern_resources(whole, mesh, TODAY)
    # what the parent of the whole-mesh plan holds, and the rules it runs
    graph = Graph(k for r in whole.resources if r.type not in BUCKET_RULES_READ and (k := kept(r)))
    assert all("storageDescriptor" not in dict(t.props) for t in graph.of_type(TABLE))
    elsewhere = checked + [
        resource_finding(policy, res.type, res.name, message, product)
        for policy, res, message, product in check_graph(whole, mesh, TODAY, BUCKET_RULES)
    ]
    mesh_rules = [p for p in GRAPH_RULES if p not in BUCKET_RULES]
    report = govern_resources(graph, mesh, TODAY, elsewhere, mesh_rules)
    assert report.findings == govern_resources(whole, mesh, TODAY).findings
    assert sorted((f.policy, f.resource_type, f.resource_name) for f in report.findings) == sorted(
        expected
    )


def test_a_graph_rule_reading_what_is_not_kept_fails_loudly(sample):
    """A kept resource has the properties `GRAPH_READS` lists: a rule reading another would
    see nothing on the whole-mesh plan and pass, so reading one raises."""
    _, resources = sample
    role = kept(graph_from_recorded([_find(resources, ROLE, "sales-producer")]).resources[0])
    assert role.get("name") == "mesh-sales-producer"
    assert role.get("tags")["mesh:domain"] == "sales"
    with pytest.raises(GraphReadError, match="'assumeRolePolicy' of aws:iam/role:Role"):
        role.get("assumeRolePolicy")
    with pytest.raises(GraphReadError):
        _ = "bucket" in role.props
    # nothing of a type the graph rules do not read is kept
    versioning = graph_from_recorded(resources).of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning and kept(versioning[0]) is None
