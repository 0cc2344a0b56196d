"""Compliance suite: walk EVERY resource the sample mesh declares and check the guarantees of
../shared/DESIGN.md (encryption, no public access, TLS only, least privilege, tags).

Each rule is checked for all resources of a kind, so a new product or domain is covered without a
new test. Every exception to a rule is listed below with the reason it is acceptable.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pulumi_aws as aws
import pytest
from conftest import SAMPLE, TODAY
from resource_types import (
    ALIAS,
    BUCKET,
    BUCKET_POLICY,
    DATABASE,
    DOMAIN,
    ENCRYPTION,
    GRANT,
    KEY,
    LF_PERMISSIONS,
    LF_RESOURCE,
    LIFECYCLE,
    OWNERSHIP,
    PRODUCT,
    PUBLIC_ACCESS_BLOCK,
    ROLE,
    ROLE_POLICY,
    TABLE,
    VERSIONING,
)

from infra import access
from infra.engines.recording import Recorded, ResourceGraph, run_program
from infra.loader import load_mesh
from infra.program import StackSettings

GLUE_TABLE = "arn:aws:glue:eu-west-1:123456789012:table"

TAGGABLE = {
    BUCKET: aws.s3.Bucket,
    KEY: aws.kms.Key,
    ROLE: aws.iam.Role,
    DATABASE: aws.glue.CatalogDatabase,
}
REQUIRED_TAGS = ("mesh:domain", "mesh:product", "cost-center")
BUCKET_CONFIGURATION = (
    "a configuration of its bucket (no AWS resource of its own); the bucket is tagged"
)
# Exceptions to "every resource is tagged", with the reason. The provider class is checked to
# really have no `tags` argument, so a reason cannot go stale silently.
UNTAGGED = {
    TABLE: (
        aws.glue.CatalogTable,
        "Glue does not tag tables; owner and classification are table parameters instead",
    ),
    ALIAS: (aws.kms.Alias, "KMS aliases take no tags; the key they name is tagged"),
    ROLE_POLICY: (aws.iam.RolePolicy, "an inline policy is part of its role, which is tagged"),
    LF_PERMISSIONS: (aws.lakeformation.Permissions, "a Lake Formation grant is not taggable"),
    "aws:lakeformation/dataLakeSettings:DataLakeSettings": (
        aws.lakeformation.DataLakeSettings,
        "account-level Lake Formation settings are not an AWS resource that takes tags",
    ),
    LF_RESOURCE: (
        aws.lakeformation.Resource,
        "a Lake Formation location registration is not taggable; the bucket it registers is",
    ),
    BUCKET_POLICY: (aws.s3.BucketPolicy, BUCKET_CONFIGURATION),
    ENCRYPTION: (aws.s3.BucketServerSideEncryptionConfiguration, BUCKET_CONFIGURATION),
    VERSIONING: (aws.s3.BucketVersioning, BUCKET_CONFIGURATION),
    PUBLIC_ACCESS_BLOCK: (aws.s3.BucketPublicAccessBlock, BUCKET_CONFIGURATION),
    OWNERSHIP: (aws.s3.BucketOwnershipControls, BUCKET_CONFIGURATION),
    LIFECYCLE: (aws.s3.BucketLifecycleConfiguration, BUCKET_CONFIGURATION),
}
COMPONENTS = {
    DOMAIN,
    PRODUCT,
    GRANT,
    "mesh:index:ConsumerAccess",
    "mesh:index:Platform",
}  # exist in the Pulumi state only, never in AWS

# The one action allowed on Resource "*": Lake Formation vends credentials through it and AWS
# accepts no other resource for it (DESIGN.md names it as the exception).
STAR_RESOURCE_ACTIONS = {"lakeformation:GetDataAccess"}
# Writing or destroying a product's objects.
OBJECT_WRITES = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectAcl",
    "s3:RestoreObject",
)


@pytest.fixture(scope="module")
def mesh():
    result = load_mesh(SAMPLE, today=TODAY)
    assert result.errors == []
    return result.mesh


@pytest.fixture(scope="module")
def graph(mesh) -> ResourceGraph:
    return run_program(mesh, StackSettings(), TODAY)


def listify(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def domain_of(graph: ResourceGraph, resource: Recorded) -> str:
    """The Domain component above a resource, from the parent chain (not from its tags)."""
    components = {r.name: r for r in graph.resources if not r.custom}
    node = resource
    while node.type != DOMAIN:
        assert node.parent is not None, f"{resource.name} is not under a domain"
        node = components[node.parent]
    return node.name


def attached(graph: ResourceGraph, type_: str, bucket: str) -> list[Recorded]:
    return [r for r in graph.by_type(type_) if r.inputs.get("bucket") == bucket]


def role_policies(graph: ResourceGraph) -> list[tuple[Recorded, dict]]:
    return [(r, json.loads(r.inputs["policy"])) for r in graph.by_type(ROLE_POLICY)]


def test_every_resource_type_is_classified(graph):
    """A new resource type must be added to TAGGABLE, UNTAGGED (with a reason) or COMPONENTS."""
    assert {r.type for r in graph.resources} <= set(TAGGABLE) | set(UNTAGGED) | COMPONENTS


@pytest.mark.parametrize("type_", sorted(UNTAGGED))
def test_untagged_exceptions_really_take_no_tags(type_):
    cls, reason = UNTAGGED[type_]
    assert reason
    assert "tags" not in cls._internal_init.__code__.co_varnames


@pytest.mark.parametrize("type_", sorted(TAGGABLE))
def test_taggable_types_take_tags(type_):
    assert "tags" in TAGGABLE[type_]._internal_init.__code__.co_varnames


# ---------------------------------------------------------------- buckets


def test_every_bucket_is_encrypted_with_its_domain_key(graph):
    buckets = graph.by_type(BUCKET)
    assert len(buckets) == 10
    for bucket in buckets:
        name = bucket.inputs["bucket"]
        key_arn = graph.get(KEY, f"{domain_of(graph, bucket)}-key").outputs["arn"]
        [encryption] = attached(graph, ENCRYPTION, name)
        assert encryption.inputs["rules"] == [
            {
                "applyServerSideEncryptionByDefault": {
                    "kmsMasterKeyId": key_arn,
                    "sseAlgorithm": "aws:kms",
                },
                "bucketKeyEnabled": True,
            }
        ], name


def test_every_bucket_blocks_public_access(graph):
    for bucket in graph.by_type(BUCKET):
        name = bucket.inputs["bucket"]
        [block] = attached(graph, PUBLIC_ACCESS_BLOCK, name)
        assert block.inputs == {
            "bucket": name,
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        }
        [ownership] = attached(graph, OWNERSHIP, name)  # ACLs disabled: no ACL can open it
        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        [versioning] = attached(graph, VERSIONING, name)  # overwrites stay recoverable
        assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}


def test_every_bucket_is_tls_only_and_its_policy_grants_nothing(graph):
    for bucket in graph.by_type(BUCKET):
        name = bucket.inputs["bucket"]
        arn = f"arn:aws:s3:::{name}"
        [resource] = attached(graph, BUCKET_POLICY, name)
        statements = json.loads(resource.inputs["policy"])["Statement"]
        assert {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        } in statements, name
        assert [s for s in statements if s["Effect"] != "Deny"] == [], name


# ---------------------------------------------------------------- IAM


def test_no_role_policy_uses_star_except_the_named_exception(graph):
    checked = 0
    for resource, document in role_policies(graph):
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
            actions = listify(statement["Action"])
            resources = listify(statement["Resource"])
            assert [a for a in actions if "*" in a] == [], (resource.name, statement["Sid"])
            if "*" in resources:
                assert resources == ["*"] and set(actions) <= STAR_RESOURCE_ACTIONS, (
                    resource.name,
                    statement["Sid"],
                )
            checked += 1
    assert checked > 40


def test_nobody_but_the_producer_writes_a_product(graph):
    producer_of = {
        b.inputs["bucket"]: f"mesh-{domain_of(graph, b)}-producer" for b in graph.by_type(BUCKET)
    }
    writers: dict[str, set[str]] = {bucket: set() for bucket in producer_of}
    for resource, document in role_policies(graph):
        for statement in document["Statement"]:
            actions = listify(statement["Action"])
            if not any(fnmatchcase(w, a) for w in OBJECT_WRITES for a in actions):
                continue
            for bucket in producer_of:
                if any(
                    fnmatchcase(f"arn:aws:s3:::{bucket}/any/object", r)
                    for r in listify(statement["Resource"])
                ):
                    writers[bucket].add(resource.inputs["role"])
    # Besides the producer, only the domain's Lake Formation data-access role can write: a
    # service role that only lakeformation.amazonaws.com (of this account) can assume, whose
    # credentials Lake Formation vends solely to principals holding INSERT on the table (the
    # producer's own Lake Formation permission). It is not a principal of its own.
    lf_role_of = {b: p.replace("-producer", "-lf-access") for b, p in producer_of.items()}
    for role in {r for r in lf_role_of.values()}:
        trust = json.loads(graph.get(ROLE, role.removeprefix("mesh-")).inputs["assumeRolePolicy"])
        assert [s["Principal"] for s in trust["Statement"]] == [
            {"Service": "lakeformation.amazonaws.com"}
        ]
    assert writers == {
        bucket: {producer, lf_role_of[bucket]} for bucket, producer in producer_of.items()
    }


def test_key_policies_delegate_data_use_only_to_named_roles(graph):
    """In a key policy Resource "*" means the key itself; that is not a wildcard. Statements
    that use the key for data must name the roles (aws:PrincipalArn)."""
    data_actions = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"}
    for key in graph.by_type(KEY):
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            assert statement["Effect"] == "Allow"
            assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
            if data_actions & set(listify(statement["Action"])):
                assert "aws:PrincipalArn" in statement["Condition"]["StringEquals"], key.name


def test_grants_match_the_declared_access_model(graph, mesh):
    """Every active grant of the access model is provisioned once, and nothing else is; a
    column-limited grant gets no S3 or KMS permission and its role is no key reader."""
    declared = {
        (g.principal.split(":")[0], g.product): g
        for g in access.declared_access(mesh, TODAY).grants
        if g.access == "read"
    }
    provisioned = {}
    for grant in graph.by_type(GRANT):
        product, consumer = grant.name.split("@")
        provisioned[(consumer, product)] = grant
    assert set(provisioned) == set(declared)

    readers: dict[str, set[str]] = {}
    for (consumer, product), declared_grant in declared.items():
        [lf] = [r for r in graph.by_type(LF_PERMISSIONS) if r.parent == f"{product}@{consumer}"]
        producer, _, name = product.partition(".")
        [iam] = [r for r in graph.by_type(ROLE_POLICY) if r.parent == f"{producer}@{consumer}"]
        assert iam.inputs["role"] == f"mesh-{consumer}-consumer"
        statements = json.loads(iam.inputs["policy"])["Statement"]
        glue = [s for s in statements if s["Sid"] == "ReadGrantedTables"]
        assert f"{GLUE_TABLE}/mesh_{producer}/{name}" in glue[0]["Resource"]
        bucket = f"arn:aws:s3:::mesh-{producer}-{name.replace('_', '-')}"
        direct = [
            (a, r)
            for s in statements
            for a in listify(s["Action"])
            if a.startswith("s3:")
            for r in listify(s["Resource"])
            if r in (bucket, f"{bucket}/*")
        ]
        if declared_grant.s3_direct:
            assert "table" in lf.inputs and direct, (product, consumer)
            readers.setdefault(producer, set()).add(consumer)
        else:
            assert lf.inputs["tableWithColumns"]["columnNames"] == list(declared_grant.columns)
            assert direct == [], (product, consumer)
    # every pair policy reads only what the pair's grants give
    for iam in graph.by_type(ROLE_POLICY):
        if iam.parent is None or "@" not in iam.parent:
            continue
        producer, consumer = iam.parent.split("@")
        for s in json.loads(iam.inputs["policy"])["Statement"]:
            for r in listify(s["Resource"]):
                if r.startswith(f"{GLUE_TABLE}/"):
                    table = r.rsplit("/", 1)[1]
                    assert (consumer, f"{producer}.{table}") in declared, r
                if r.startswith("arn:aws:s3:::"):
                    assert any(
                        g.s3_direct
                        and r.removesuffix("/*")
                        == f"arn:aws:s3:::mesh-{p.replace('.', '-').replace('_', '-')}"
                        for (c, p), g in declared.items()
                        if c == consumer
                    ), r
    for key in graph.by_type(KEY):
        statements = json.loads(key.inputs["policy"])["Statement"]
        named = [
            arn.rsplit("/mesh-", 1)[1].removesuffix("-consumer")
            for s in statements
            if s["Sid"] == "ConsumerDecryptThroughS3"
            for arn in s["Condition"]["StringEquals"]["aws:PrincipalArn"]
        ]
        assert set(named) == readers.get(domain_of(graph, key), set()), key.name


# ---------------------------------------------------------------- tags


def test_every_taggable_resource_is_tagged(graph, mesh):
    tagged = [r for r in graph.resources if r.type in TAGGABLE]
    assert len(tagged) == 10 + 5 + 15 + 5  # buckets, keys, roles, databases
    for resource in tagged:
        domain = domain_of(graph, resource)
        tags = resource.inputs["tags"]
        assert set(REQUIRED_TAGS) <= set(tags), resource.name
        assert tags["mesh:domain"] == domain, resource.name
        assert tags["cost-center"] == mesh.blueprint(domain).cost_center, resource.name
        if resource.parent == domain:  # domain-level: key, database, roles
            assert tags["mesh:product"] == "-", resource.name
        else:
            assert f"{domain}.{tags['mesh:product']}" == resource.parent, resource.name


# ---------------------------------------------------------------- AWS size limits

# Quotas AWS enforces only at deploy time (whitespace is not counted); checked here so a growing
# mesh fails in CI rather than halfway through `pulumi up`.
ROLE_INLINE_POLICIES_MAX = 10_240  # aggregate of a role's inline policies
KEY_POLICY_MAX = 32_768
BUCKET_POLICY_MAX = 20_480


def compact(document: dict) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def test_policies_fit_aws_size_limits(graph):
    per_role: dict[str, int] = {}
    for resource, document in role_policies(graph):
        per_role[resource.inputs["role"]] = per_role.get(resource.inputs["role"], 0) + compact(
            document
        )
    assert {r: n for r, n in per_role.items() if n > ROLE_INLINE_POLICIES_MAX} == {}
    for key in graph.by_type(KEY):
        assert compact(json.loads(key.inputs["policy"])) <= KEY_POLICY_MAX, key.name
    for policy in graph.by_type(BUCKET_POLICY):
        assert compact(json.loads(policy.inputs["policy"])) <= BUCKET_POLICY_MAX, policy.name
