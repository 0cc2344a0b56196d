"""Compliance suite: walk EVERY resource the sample mesh declares (in three accounts, and the
same domains in one) and check the guarantees of
../shared/DESIGN.md (encryption, no public access, TLS only, least privilege, tags).

Each rule is checked for all resources of a kind, so a new product or domain is covered without a
new test. Every exception to a rule is listed below with the reason it is acceptable.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pulumi_aws as aws
import pytest
from conftest import SAMPLE, SINGLE, TODAY
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

from infra.blueprints.load import load_mesh
from infra.engines.recording import Recorded, ResourceGraph, run_program
from infra.model import access
from infra.provision.names import Part, child_name
from infra.provision.program import StackSettings

GLUE_TABLES = "arn:aws:glue:eu-west-1:"

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
    "pulumi:providers:aws": (
        aws.Provider,
        "a provider is not an AWS resource; each resource it creates carries its own tags",
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


@pytest.fixture(scope="module", params=[SINGLE, SAMPLE], ids=["one-account", "three-accounts"])
def mesh(request):
    result = load_mesh(request.param, today=TODAY)
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
        key_arn = graph.get(KEY, child_name(domain_of(graph, bucket), Part.KEY)).outputs["arn"]
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


def account(mesh, domain: str) -> str:
    return StackSettings().accounts(mesh).of(domain)


def consumer_arn(mesh, domain: str) -> str:
    return f"arn:aws:iam::{account(mesh, domain)}:role/mesh-{domain}-consumer"


def direct_readers(mesh) -> dict[str, set[str]]:
    """bucket -> consumer role ARNs of the active grants that opt into direct S3 read."""
    out: dict[str, set[str]] = {}
    for g in access.declared_access(mesh, TODAY).grants:
        if g.access == "read" and g.s3_direct:
            bucket = f"mesh-{g.product.replace('.', '-').replace('_', '-')}"
            role = consumer_arn(mesh, g.principal.split(":")[0])
            out.setdefault(bucket, set()).add(role)
    return out


def test_every_bucket_is_tls_only_and_grants_only_its_direct_readers(graph, mesh):
    """A bucket policy denies plain HTTP, and allows nothing but reading (and listing) the
    table location for the consumer roles of grants that opt into direct S3 read."""
    readers = direct_readers(mesh)
    assert readers == {"mesh-finance-revenue-daily": {consumer_arn(mesh, "analytics")}}
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
        allows = [s for s in statements if s["Effect"] != "Deny"]
        named = {r for s in allows for r in s["Principal"]["AWS"]}
        assert named == readers.get(name, set()), name
        for s in allows:
            assert set(listify(s["Action"])) <= {
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:ListBucket",
            }
            assert listify(s["Resource"]) in ([f"{arn}/data/*"], [arn]), name
            if listify(s["Resource"]) == [arn]:
                assert s["Condition"]["StringLike"] == {"s3:prefix": ["data/*"]}


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


def test_key_policies_let_only_named_roles_use_the_key_through_s3(graph, mesh):
    """In a key policy Resource "*" means the key itself; that is not a wildcard. Statements
    that use the key for data name their roles (the producer and the Lake Formation role in
    aws:PrincipalArn, direct readers as principals, each limited to its bucket), through S3
    only."""
    data_actions = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"}
    readers = direct_readers(mesh)
    for key in graph.by_type(KEY):
        root = {"AWS": f"arn:aws:iam::{account(mesh, key.inputs['tags']['mesh:domain'])}:root"}
        named: set[str] = set()
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            assert statement["Effect"] == "Allow"
            if not data_actions & set(listify(statement["Action"])):
                assert statement["Principal"] == root, key.name
                continue
            assert statement["Condition"]["StringEquals"]["kms:ViaService"] == (
                "s3.eu-west-1.amazonaws.com"
            ), key.name
            if statement["Principal"] == root:
                assert "aws:PrincipalArn" in statement["Condition"]["StringEquals"], key.name
            else:
                assert listify(statement["Action"]) == ["kms:Decrypt"], key.name
                [bucket, objects] = statement["Condition"]["StringLike"][
                    "kms:EncryptionContext:aws:s3:arn"
                ]
                assert objects == f"{bucket}/*"
                assert (
                    set(statement["Principal"]["AWS"])
                    == readers[bucket.removeprefix("arn:aws:s3:::")]
                )
                named |= set(statement["Principal"]["AWS"])
        domain = key.inputs["tags"]["mesh:domain"]
        assert named == {
            r for b, roles in readers.items() if b.startswith(f"mesh-{domain}-") for r in roles
        }, key.name


def test_grants_match_the_declared_access_model(graph, mesh):
    """Every active grant of the access model is provisioned once, as one Lake Formation
    permission (whole table or exactly its columns), and nothing else is; no consumer role's
    identity policy names a table, a bucket or a key."""
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
    for (consumer, product), declared_grant in declared.items():
        [lf] = [r for r in graph.by_type(LF_PERMISSIONS) if r.parent == f"{product}@{consumer}"]
        producer, _, name = product.partition(".")
        assert lf.inputs["principal"] == consumer_arn(mesh, consumer)
        # across accounts: on the producer's catalog
        catalog = (
            {"catalogId": account(mesh, producer)}
            if account(mesh, producer) != account(mesh, consumer)
            else {}
        )
        if declared_grant.whole_table:
            assert lf.inputs["table"] == {
                **catalog,
                "databaseName": f"mesh_{producer}",
                "name": name,
            }
        else:
            assert lf.inputs["tableWithColumns"]["columnNames"] == list(declared_grant.columns)
        assert [r.name for r in graph.resources if r.parent == f"{product}@{consumer}"] == [lf.name]
    for resource, document in role_policies(graph):
        if not resource.inputs["role"].endswith("-consumer"):
            continue
        for statement in document["Statement"]:
            for arn in listify(statement["Resource"]):
                assert not arn.startswith(("arn:aws:s3:", "arn:aws:kms:")), resource.name
                if arn.startswith(GLUE_TABLES) and ":table/" in arn:
                    # every account's catalog in a multi-account mesh, Lake Formation gates it
                    multi = StackSettings().accounts(mesh).multi
                    assert arn == f"{GLUE_TABLES}{'*' if multi else '123456789012'}:table/mesh_*/*"


# ---------------------------------------------------------------- tags


def test_every_taggable_resource_is_tagged(graph, mesh):
    tagged = [r for r in graph.resources if r.type in TAGGABLE]
    links = [r for r in graph.by_type(DATABASE) if "targetDatabase" in r.inputs]
    assert len(tagged) == 10 + 5 + 15 + 5 + len(links)  # buckets, keys, roles, databases
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
