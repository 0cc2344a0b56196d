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
    LF_DATA_FILTER,
    LF_PERMISSIONS,
    LF_RESOURCE,
    LF_RESOURCE_TAGS,
    LF_TAG,
    LIFECYCLE,
    OWNERSHIP,
    PRODUCT,
    PUBLIC_ACCESS_BLOCK,
    ROLE,
    ROLE_POLICY,
    TABLE,
    VERSIONING,
    WORKGROUP,
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
    WORKGROUP: aws.athena.Workgroup,
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
    LF_TAG: (
        aws.lakeformation.LfTag,
        "an LF-tag is a Lake Formation catalog object of the account, not an AWS resource",
    ),
    LF_RESOURCE_TAGS: (
        aws.lakeformation.ResourceLfTags,
        "an LF-tag assignment is part of the table it tags, named after its product",
    ),
    LF_DATA_FILTER: (
        aws.lakeformation.DataCellsFilter,
        (
            "a Lake Formation data cells filter is not taggable; the grant it belongs to is named "
            "after its product and consumer"
        ),
    ),
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


def is_results(bucket: str) -> bool:
    """A domain's Athena query-results bucket (`infra.provision.query`), not a product's."""
    return bucket.endswith("-athena")


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
    assert len(buckets) == 10 + 5  # products, and one query-results bucket per domain
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
        if is_results(name):
            # query results are disposable working copies: not versioned, gone in 7 days
            assert attached(graph, VERSIONING, name) == [], name
            [lifecycle] = attached(graph, LIFECYCLE, name)
            assert [r["expiration"] for r in lifecycle.inputs["rules"]] == [{"days": 7}], name
            continue
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
                    fnmatchcase(f"arn:aws:s3:::{bucket}/{probe}", r)
                    for probe in ("any/object", "results/any-object")
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
    # A domain's query-results bucket is written by its own two roles (Athena writes each
    # query's results as the caller) and by nobody else.
    assert writers == {
        bucket: {producer, producer.replace("-producer", "-consumer")}
        if is_results(bucket)
        else {producer, lf_role_of[bucket]}
        for bucket, producer in producer_of.items()
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
    permission: on the whole table, or on a data cells filter of exactly its columns (and the
    partition keys, readable with every grant) and its rows, which Athena, Redshift Spectrum
    and Glue ETL all honour; nothing else is. No consumer role's identity policy names a
    table, a product's bucket or key."""
    declared = {
        (g.principal.split(":")[0], g.product): g
        for g in access.declared_access(mesh, TODAY).grants
        if g.access == "read" and g.via_tags is None  # by tag expression: tests/test_lftags_plan.py
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
            assert [r.name for r in graph.resources if r.parent == f"{product}@{consumer}"] == [
                lf.name
            ]
        else:
            [data_filter] = graph.index.children(f"{product}@{consumer}", LF_DATA_FILTER)
            table_data = data_filter.inputs["tableData"]
            schema = mesh.product(product)[1]
            if set(declared_grant.columns) == {c.name for c in schema.columns}:
                # every column, some rows: a column wildcard that excludes nothing
                assert table_data["columnWildcard"] == {"excludedColumnNames": []}
                assert "columnNames" not in table_data
            else:
                keys = [k.name for k in schema.partition_keys]
                assert table_data["columnNames"] == [*declared_grant.columns, *keys]
            assert table_data["tableCatalogId"] == account(mesh, producer)
            rows = declared_grant.row_filter
            assert table_data["rowFilter"] == (
                {"filterExpression": rows} if rows else {"allRowsWildcard": {}}
            )
            assert lf.inputs["dataCellsFilter"] == {
                "tableCatalogId": account(mesh, producer),
                "databaseName": f"mesh_{producer}",
                "tableName": name,
                "name": table_data["name"],
            }
            assert [r.name for r in graph.resources if r.parent == f"{product}@{consumer}"] == [
                data_filter.name,
                lf.name,
            ]
    for resource, document in role_policies(graph):
        if not resource.inputs["role"].endswith("-consumer"):
            continue
        domain = domain_of(graph, resource)
        key_arn = graph.get(KEY, child_name(domain, Part.KEY)).outputs["arn"]
        own = {  # the query path: its own results bucket and key, nothing of a product
            f"arn:aws:s3:::mesh-{domain}-athena",
            f"arn:aws:s3:::mesh-{domain}-athena/results/*",
            key_arn,
        }
        for statement in document["Statement"]:
            for arn in listify(statement["Resource"]):
                if arn.startswith(("arn:aws:s3:", "arn:aws:kms:")):
                    assert resource.inputs["name"] == "mesh-query-path", resource.name
                    assert arn in own, (resource.name, arn)
                if arn.startswith(GLUE_TABLES) and ":table/" in arn:
                    # every account's catalog in a multi-account mesh, Lake Formation gates it
                    multi = StackSettings().accounts(mesh).multi
                    assert arn == f"{GLUE_TABLES}{'*' if multi else '123456789012'}:table/mesh_*/*"


# ---------------------------------------------------------------- tags


def test_every_taggable_resource_is_tagged(graph, mesh):
    tagged = [r for r in graph.resources if r.type in TAGGABLE]
    links = [r for r in graph.by_type(DATABASE) if "targetDatabase" in r.inputs]
    # buckets (products and query results), keys, roles, databases, workgroups
    assert len(tagged) == 10 + 5 + 5 + 15 + 5 + 5 + len(links)
    for resource in tagged:
        domain = domain_of(graph, resource)
        tags = resource.inputs["tags"]
        assert set(REQUIRED_TAGS) <= set(tags), resource.name
        assert tags["mesh:domain"] == domain, resource.name
        assert tags["cost-center"] == mesh.blueprint(domain).cost_center, resource.name
        if resource.parent == domain:  # domain-level: key, database, roles, query path
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


# ---------------------------------------------------------------- the query path


def test_every_domain_queries_in_its_own_enforced_workgroup(graph, mesh):
    """Each domain has one Athena workgroup, configuration enforced (clients cannot redirect
    or unencrypt results), writing to its own results bucket under its own key; no role's
    policy names another domain's workgroup, results bucket or key (users of one workgroup
    see each other's results: one per domain keeps a column limit from leaking)."""
    workgroups = graph.by_type(WORKGROUP)
    assert sorted(domain_of(graph, w) for w in workgroups) == sorted(mesh.domains)
    for wg in workgroups:
        domain = domain_of(graph, wg)
        key_arn = graph.get(KEY, child_name(domain, Part.KEY)).outputs["arn"]
        config = wg.inputs["configuration"]
        assert config["enforceWorkgroupConfiguration"] is True
        assert config["resultConfiguration"] == {
            "outputLocation": f"s3://mesh-{domain}-athena/results/",
            "encryptionConfiguration": {"encryptionOption": "SSE_KMS", "kmsKeyArn": key_arn},
            "expectedBucketOwner": account(mesh, domain),
        }, domain
    for resource, document in role_policies(graph):
        domain = domain_of(graph, resource)
        for statement in document["Statement"]:
            for arn in listify(statement["Resource"]):
                if ":athena:" in arn:
                    assert arn.endswith(f":workgroup/mesh-{domain}"), (resource.name, arn)
                if arn.startswith("arn:aws:s3:::") and arn.split("/")[0].endswith("-athena"):
                    assert arn.startswith(f"arn:aws:s3:::mesh-{domain}-athena"), arn


def test_every_querying_role_has_describe_on_default_in_its_account(graph, mesh):
    """Athena needs Lake Formation DESCRIBE on `default` (and glue:GetDatabase on it): both
    roles of every domain, granted in the domain's own account."""
    describes = {
        (r.account, r.inputs["principal"])
        for r in graph.by_type(LF_PERMISSIONS)
        if r.inputs.get("database") == {"name": "default"}
    }
    assert all(
        r.inputs["permissions"] == ["DESCRIBE"]
        for r in graph.by_type(LF_PERMISSIONS)
        if r.inputs.get("database") == {"name": "default"}
    )
    assert describes == {
        (account(mesh, d), f"arn:aws:iam::{account(mesh, d)}:role/mesh-{d}-{kind}")
        for d in mesh.domains
        for kind in ("producer", "consumer")
    }
    for resource, document in role_policies(graph):
        if resource.inputs["name"] != "mesh-query-path":
            continue
        acct = account(mesh, domain_of(graph, resource))
        [default] = [s for s in document["Statement"] if s["Sid"] == "ReadDefaultDatabase"]
        assert default["Action"] == ["glue:GetDatabase"]
        assert default["Resource"] == [
            f"arn:aws:glue:eu-west-1:{acct}:catalog",
            f"arn:aws:glue:eu-west-1:{acct}:database/default",
        ]
