"""Benchmark: AWS resources per data product for the job "one encrypted bucket, catalog entry,
producer role, two Lake Formation grants", against AWS DSF's 17 CloudFormation resources.

    python bench/resources_bench.py

Writes a mesh of one producing domain (`sales`) with one product granted to two consumer domains
(one whole-table grant that opts into direct S3 read: a Lake Formation permission plus two
statements in the product's bucket policy and one in the domain's key policy; one column-limited
grant: Lake Formation only), runs the Pulumi program under the recording mocks and counts the AWS
resources (Pulumi component resources `mesh:index:*` are logical groupings, not AWS resources):

- per product: the DataProduct component's subtree, grants excluded;
- per grant: one Grant component's subtree (the Lake Formation permission: a grant costs no IAM
  resource, the consumer role's one policy is the same whatever it is granted);
- domain-level: the producing Domain component's own resources, shared by all its products
  (each consumer domain has the same, its constant consumer policy included);
- account-level: the Platform component (once per account);
- the job's total (a domain whose first product this is) and each further product's cost.

Counts are given as Pulumi/provider resources and as CloudFormation resources, since DSF's 17 are
CloudFormation resources: in CloudFormation the S3 bucket's encryption, versioning, lifecycle,
ownership controls and public access block are properties of `AWS::S3::Bucket`, and a role's
own inline policies are its `Policies` property. Then every resource type with the security
control it carries (why it earns its place).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.meshgen import render
from bench.timing import sizes

DSF_PER_PRODUCT = 17
GOAL = 12
PRODUCT_COMPONENT = "mesh:index:DataProduct"
GRANT_COMPONENT = "mesh:index:Grant"
DOMAIN_COMPONENT = "mesh:index:Domain"
PLATFORM_COMPONENT = "mesh:index:Platform"

# provider resource types that are properties of another resource in CloudFormation
CFN_PROPERTY_OF = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "AWS::S3::Bucket BucketEncryption"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "AWS::S3::Bucket VersioningConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "AWS::S3::Bucket LifecycleConfiguration"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "AWS::S3::Bucket OwnershipControls",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "AWS::S3::Bucket PublicAccessBlockConfiguration"
    ),
}
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"  # a property of its role when in the same domain

# resource type -> the control it carries (why it earns its place)
WHY: dict[str, str] = {
    "aws:s3/bucket:Bucket": (
        "one bucket per product: its own blast radius and policy; protected + retained, so "
        "removing a product never deletes its data; and the domain's one Athena query-results "
        "bucket (results are not Lake Formation-governed: each domain's stay its own)"
    ),
    "aws:athena/workgroup:Workgroup": (
        "the domain's one workgroup, configuration enforced: results only in the domain's "
        "results bucket, SSE-KMS with its key, the expected owner; the only workgroup its "
        "consumer role may query in"
    ),
    "aws:lakeformation/dataCellsFilter:DataCellsFilter": (
        "a column- or row-limited grant's data cells filter: Glue ETL honours column limits "
        "only through one, so the Lake Formation permission names the filter"
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "default SSE-KMS with the domain's customer-managed key (bucket key on): no object is "
        "readable without the key policy's consent"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "all four public-access blocks: no ACL or policy can ever make the bucket public"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        "BucketOwnerEnforced: ACLs disabled, every object owned by the bucket owner, access "
        "decided by policies only"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": (
        "overwritten or deleted objects stay recoverable (bad job, ransomware)"
    ),
    "aws:s3/bucketPolicy:BucketPolicy": (
        "TLS only; PutObject only with SSE-KMS and the domain's key (no unencrypted, SSE-C or "
        "foreign-key objects); direct read of the table location for opted-in grants, until "
        "they expire"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "retention_days enforced (objects expire), old versions and incomplete uploads cleaned: "
        "the retention policy as code"
    ),
    "aws:glue/catalogTable:CatalogTable": (
        "the catalog entry: schema with PII columns marked; what column-level grants name; "
        "protected"
    ),
    "aws:lakeformation/resource:Resource": (
        "registers the bucket with Lake Formation (domain data-access role): LF vends the "
        "credentials, so column-limited readers need no S3 rights"
    ),
    "aws:lakeformation/permissions:Permissions": (
        "grant: SELECT on the table, column-level when limited / domain: the producer's "
        "rights on every table of its database"
    ),
    ROLE_POLICY: (
        "producer's own-bucket read-write, the LF data-access role's vending rights, and the "
        "consumer role's one constant policy (catalog read of the mesh, GetDataAccess: Lake "
        "Formation is the gate), least privilege"
    ),
    "aws:kms/key:Key": (
        "customer-managed key per domain, rotation on; its policy lets only the producer, the "
        "LF data-access role and opted-in direct readers (each its bucket only) use it, through "
        "S3 only; protected"
    ),
    "aws:kms/alias:Alias": (
        "a stable, readable name for the key (audit trails, key replacement); operability, "
        "no access control of its own"
    ),
    "aws:glue/catalogDatabase:CatalogDatabase": (
        "the domain's catalog namespace: the boundary of the producer's wildcard LF grant; "
        "protected"
    ),
    "aws:iam/role:Role": (
        "producer (the only writer), consumer (reads what others granted; no write anywhere), "
        "LF data-access (trusted only by Lake Formation of this account)"
    ),
    "aws:lakeformation/dataLakeSettings:DataLakeSettings": (
        "LF admins, and no IAM_ALLOWED_PRINCIPALS defaults: otherwise any principal with Glue "
        "and S3 rights bypasses column grants"
    ),
}


def job_mesh(directory: Path) -> None:
    """sales.orders (5 columns, one PII) granted to marketing (every column, approved, direct
    S3 read) and finance (two columns); marketing and finance own no product."""
    producer = {
        "domain": "sales",
        "description": "Orders of the web shop",
        "owner": {"team": "sales-data", "email": "sales-data@example.com"},
        "cost_center": "CC-1001",
        "products": [
            {
                "name": "orders",
                "description": "One row per order line",
                "classification": "internal",
                "format": "parquet",
                "retention_days": 730,
                "schema": [
                    {"name": "order_id", "type": "string"},
                    {"name": "customer_email", "type": "string", "pii": True},
                    {"name": "amount", "type": "decimal(12,2)"},
                    {"name": "currency", "type": "string"},
                    {"name": "order_date", "type": "date"},
                ],
                "partition_keys": [{"name": "dt", "type": "string"}],
                "consumers": [
                    {
                        "domain": "marketing",
                        "include_pii": True,
                        "approved_by": "privacy-office@example.com",
                        "justification": "campaign attribution",
                        "s3_direct": True,
                    },
                    {
                        "domain": "finance",
                        "columns": ["amount", "order_id"],
                        "justification": "revenue reconciliation",
                    },
                ],
            }
        ],
        "policies": {},
        "exceptions": [],
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sales.yaml").write_text(render(producer), encoding="utf-8")
    for name in ("marketing", "finance"):
        consumer = {
            "domain": name,
            "description": f"The {name} domain (consumer only)",
            "owner": {"team": f"{name}-data", "email": f"{name}-data@example.com"},
            "cost_center": "CC-2001",
            "products": [],
            "policies": {},
            "exceptions": [],
        }
        (directory / f"{name}.yaml").write_text(render(consumer), encoding="utf-8")


def subtree(resources: list[Any], root: str, stop: set[str]) -> list[Any]:
    """AWS resources under component `root`, not descending into components of type `stop`."""
    children: dict[str | None, list[Any]] = {}
    for r in resources:
        children.setdefault(r.parent, []).append(r)
    out, todo = [], [root]
    while todo:
        for r in children.get(todo.pop(), []):
            if r.custom:
                out.append(r)
            elif r.type not in stop:
                todo.append(r.name)
    return out


def cfn_count(resources: list[Any], roles_here: set[str]) -> int:
    """CloudFormation resources: bucket configurations and a role's own inline policies fold."""
    n = 0
    for r in resources:
        if r.type in CFN_PROPERTY_OF:
            continue
        if r.type == ROLE_POLICY and r.inputs.get("role") in roles_here:
            continue
        n += 1
    return n


def short(type_: str) -> str:
    """`aws:s3/bucketPolicy:BucketPolicy` -> `s3/BucketPolicy`."""
    if not type_.startswith("aws:"):
        return type_
    _, module, kind = type_.split(":")
    return f"{module.split('/')[0]}/{kind}"


def main() -> int:
    from infra.blueprints.load import load_mesh
    from infra.engines.recording import run_program
    from infra.provision.program import StackSettings

    today = dt.date.fromisoformat(os.environ.get("MESH_TODAY") or dt.date.today().isoformat())
    with tempfile.TemporaryDirectory(prefix="mesh-resources-") as tmp:
        job_mesh(Path(tmp))
        loaded = load_mesh(tmp, today=today)
        if loaded.errors:
            raise SystemExit(f"job mesh invalid: {[str(e) for e in loaded.errors]}")
        resources = run_program(loaded.mesh, StackSettings(), today).resources

    by_type = {r.name: r.type for r in resources}
    product = next(r for r in resources if r.type == PRODUCT_COMPONENT)
    domain = next(r for r in resources if r.type == DOMAIN_COMPONENT and r.name == "sales")
    grants = [r for r in resources if r.type == GRANT_COMPONENT]
    platform = [r for r in resources if r.type == PLATFORM_COMPONENT]
    per_product = subtree(resources, product.name, {GRANT_COMPONENT})
    per_grant = {g.name: subtree(resources, g.name, set()) for g in grants}
    domain_level = subtree(resources, domain.name, {PRODUCT_COMPONENT})
    account_level = [r for p in platform for r in subtree(resources, p.name, set())]
    own_roles = {r.inputs.get("name") for r in domain_level if r.type == "aws:iam/role:Role"}
    assert by_type[product.parent] == DOMAIN_COMPONENT and len(per_grant) == 2

    grant_counts = [len(v) for v in per_grant.values()]
    grant_cfn = [cfn_count(v, own_roles) for v in per_grant.values()]
    product_cfn = cfn_count(per_product, own_roles)
    domain_cfn = cfn_count(domain_level, own_roles)
    marginal = len(per_product) + sum(grant_counts)
    marginal_cfn = product_cfn + sum(grant_cfn)
    job = marginal + len(domain_level)
    job_cfn = marginal_cfn + domain_cfn

    def types(items: list[Any]) -> str:
        return ", ".join(
            f"{n} {short(t)}" for t, n in sorted(Counter(r.type for r in items).items())
        )

    print('job: "one encrypted bucket, catalog entry, producer role, two Lake Formation grants"')
    print(
        "mesh: sales.orders granted to marketing (whole table: LF, and direct S3 read through "
        "the bucket and key policies) and finance (2 columns: LF only); recorded with the Pulumi "
        "program under recording mocks"
    )
    print()
    print(f"{'':48} {'AWS (provider)':>14} {'CloudFormation':>14}")
    rows = [
        ("per product (DataProduct subtree)", len(per_product), product_cfn, per_product),
        *(
            (f"per grant ({name})", len(v), cfn_count(v, own_roles), v)
            for name, v in per_grant.items()
        ),
        ("domain-level, shared (sales Domain)", len(domain_level), domain_cfn, domain_level),
    ]
    for label, n, cfn, items in rows:
        print(f"{label:48} {n:14d} {cfn:14d}   {types(items)}")
    print(
        f"{'account-level, once per account (Platform)':48} {len(account_level):14d} "
        f"{len(account_level):14d}   {types(account_level)}"
    )
    print()
    print(f"{'the job, first product of a domain':48} {job:14d} {job_cfn:14d}")
    print(f"{'further product, two grants':48} {marginal:14d} {marginal_cfn:14d}")
    print(f"{'AWS DSF, per product, same job':48} {'':14} {DSF_PER_PRODUCT:14d}")
    print(
        f"ratio to DSF (CloudFormation): job {job_cfn / DSF_PER_PRODUCT:.2f}, further product "
        f"{marginal_cfn / DSF_PER_PRODUCT:.2f}; issue goal <= {GOAL} per product: "
        f"{marginal} provider / {marginal_cfn} CloudFormation resources per further product, "
        f"{job} / {job_cfn} for the job"
    )
    print()
    print("why each resource type earns its place (the control it carries):")
    seen = Counter(r.type for r in [*per_product, *domain_level, *account_level])
    for g in per_grant.values():
        seen.update(r.type for r in g)
    missing = sorted(t for t in seen if t not in WHY)
    for type_, n in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0])):
        fold = f" [CloudFormation: {CFN_PROPERTY_OF[type_]}]" if type_ in CFN_PROPERTY_OF else ""
        print(f"  {n:2d} x {short(type_)}{fold}: {WHY.get(type_, '(no reason recorded)')}")
    if missing:
        print(f"resource types without a stated reason: {missing}")
        return 1
    return 0


if __name__ == "__main__":
    sizes(__doc__, sys.argv[1:], [])  # --help; it takes no arguments
    sys.exit(main())
