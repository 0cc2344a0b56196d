"""The appliers of the local engine, per service: each writes one recorded resource (its type,
logical name and inputs, as pulumi_aws records them) into the emulator through boto3, in the
account of the resource's provider, and returns the id and the outputs moto hands back (ARNs,
key ids), which flow into the dependent resources. `APPLIERS`: resource type -> applier;
`infra.engines.moto_deploy.MotoMocks` dispatches to them (and to the stateful ones of
`infra.engines.moto_lftags` and `infra.engines.moto_query`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.engines.moto import LocalAws, UnsupportedResource
from infra.engines.moto_lftags import tag_policy_resource
from infra.engines.moto_query import apply_workgroup
from infra.provision import types as T
from infra.provision.arns import AwsEnv
from infra.provision.graph import lf_target


@dataclass(frozen=True)
class Account:
    """Where a resource is applied: the account of its provider, and that account's ARNs."""

    aws: LocalAws
    account: str
    env: AwsEnv

    def client(self, service: str) -> Any:
        return self.aws.in_account(service, self.account)


Applier = Callable[[str, dict, Account], tuple[str, dict]]


def _int(value: Any) -> int:
    return int(value)


def _tags_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())]


def _glue_columns(cols: list[dict]) -> list[dict]:
    out = []
    for c in cols or []:
        col = {"Name": c["name"], "Type": c["type"]}
        if c.get("comment"):
            col["Comment"] = c["comment"]
        if c.get("parameters"):
            col["Parameters"] = c["parameters"]
        out.append(col)
    return out


def lf_resource(inputs: dict) -> dict:
    """The Lake Formation API's `Resource` for a permission's recorded inputs."""
    on_tags = tag_policy_resource(inputs)  # on an LF-tag expression (`infra.engines.moto_lftags`)
    if on_tags is not None:
        return on_tags
    t = lf_target(inputs)
    if t is None:
        raise UnsupportedResource(
            "Lake Formation permission on a resource other than a table/database"
        )
    # the catalog of the resource (another account's, across accounts)
    of = {"CatalogId": inputs["catalogId"]} if inputs.get("catalogId") else {}
    if t.kind == "filter":
        f = inputs["dataCellsFilter"]
        return {
            "DataCellsFilter": {
                "TableCatalogId": f["tableCatalogId"],
                "DatabaseName": t.database,
                "TableName": t.table,
                "Name": t.filter,
            }
        }
    if t.kind == "database":
        return {"Database": {**of, "Name": t.database}}
    if t.kind == "table":
        if t.table is None:
            return {"Table": {**of, "DatabaseName": t.database, "TableWildcard": {}}}
        return {"Table": {**of, "DatabaseName": t.database, "Name": t.table}}
    columns = (
        {"ColumnNames": list(t.columns)}
        if t.columns is not None
        else {"ColumnWildcard": {"ExcludedColumnNames": list(t.excluded)}}
    )
    return {"TableWithColumns": {**of, "DatabaseName": t.database, "Name": t.table, **columns}}


def enforced_bucket_policy(document: dict) -> dict | None:
    """The part of a bucket policy moto can enforce faithfully.

    moto evaluates bucket policies on object requests but ignores `Condition`: a conditional
    Deny (TLS-only, wrong KMS key) would deny *every* request. Conditional statements are therefore
    kept out of the emulator and verified statically by the verifier against the generated
    document; unconditional statements are enforced. Returns None when nothing is left.
    """
    kept = [s for s in document.get("Statement", []) if "Condition" not in s]
    return {**document, "Statement": kept} if kept else None


# -- KMS


def key(name: str, i: dict, at: Account) -> tuple[str, dict]:
    kms = at.client("kms")
    meta = kms.create_key(
        Description=i.get("description", ""),
        Policy=i["policy"],
        Tags=[{"TagKey": k, "TagValue": v} for k, v in sorted(i.get("tags", {}).items())],
    )["KeyMetadata"]
    if i.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    return meta["KeyId"], {"arn": meta["Arn"], "keyId": meta["KeyId"]}


def alias(name: str, i: dict, at: Account) -> tuple[str, dict]:
    at.client("kms").create_alias(AliasName=i["name"], TargetKeyId=i["targetKeyId"])
    arn = f"arn:{at.env.partition}:kms:{at.env.region}:{at.env.account}:{i['name']}"
    return i["name"], {"arn": arn}


# -- Glue


def database(name: str, i: dict, at: Account) -> tuple[str, dict]:
    given: dict[str, Any] = {"Name": i["name"], "Description": i.get("description", "")}
    target = i.get("targetDatabase")
    if target:  # a resource link to a database of another account's catalog
        given["TargetDatabase"] = {
            "CatalogId": target["catalogId"],
            "DatabaseName": target["databaseName"],
        }
    at.client("glue").create_database(DatabaseInput=given, Tags=i.get("tags", {}))
    arn = at.env.glue_database_arn(i["name"])
    return f"{at.env.account}:{i['name']}", {"arn": arn}


def table(name: str, i: dict, at: Account) -> tuple[str, dict]:
    sd = i["storageDescriptor"]
    serde = sd.get("serDeInfo", {})
    at.client("glue").create_table(
        DatabaseName=i["databaseName"],
        TableInput={
            "Name": i["name"],
            "Description": i.get("description", ""),
            "TableType": i.get("tableType", "EXTERNAL_TABLE"),
            "Parameters": i.get("parameters", {}),
            "StorageDescriptor": {
                "Columns": _glue_columns(sd.get("columns", [])),
                "Location": sd["location"],
                "InputFormat": sd["inputFormat"],
                "OutputFormat": sd["outputFormat"],
                "SerdeInfo": {
                    "SerializationLibrary": serde["serializationLibrary"],
                    "Parameters": serde.get("parameters", {}),
                },
            },
            "PartitionKeys": _glue_columns(i.get("partitionKeys", [])),
        },
    )
    arn = at.env.glue_table_arn(i["databaseName"], i["name"])
    return f"{at.env.account}:{i['databaseName']}:{i['name']}", {"arn": arn}


# -- IAM


def role(name: str, i: dict, at: Account) -> tuple[str, dict]:
    role = at.client("iam").create_role(
        RoleName=i["name"],
        AssumeRolePolicyDocument=i["assumeRolePolicy"],
        Description=i.get("description", ""),
        MaxSessionDuration=_int(i.get("maxSessionDuration", 3600)),
        Tags=_tags_list(i.get("tags")),
    )["Role"]
    return role["RoleName"], {"arn": role["Arn"], "uniqueId": role["RoleId"]}


def role_policy(name: str, i: dict, at: Account) -> tuple[str, dict]:
    at.client("iam").put_role_policy(
        RoleName=i["role"], PolicyName=i["name"], PolicyDocument=i["policy"]
    )
    return f"{i['role']}:{i['name']}", {}


# -- S3


def bucket(name: str, i: dict, at: Account) -> tuple[str, dict]:
    s3 = at.client("s3")
    s3.create_bucket(
        Bucket=i["bucket"],
        CreateBucketConfiguration={"LocationConstraint": at.env.region},
    )
    if i.get("tags"):
        s3.put_bucket_tagging(Bucket=i["bucket"], Tagging={"TagSet": _tags_list(i["tags"])})
    return i["bucket"], {"arn": at.env.bucket_arn(i["bucket"]), "bucket": i["bucket"]}


def public_access_block(name: str, i: dict, at: Account) -> tuple[str, dict]:
    at.client("s3").put_public_access_block(
        Bucket=i["bucket"],
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": bool(i.get("blockPublicAcls")),
            "IgnorePublicAcls": bool(i.get("ignorePublicAcls")),
            "BlockPublicPolicy": bool(i.get("blockPublicPolicy")),
            "RestrictPublicBuckets": bool(i.get("restrictPublicBuckets")),
        },
    )
    return i["bucket"], {}


def ownership(name: str, i: dict, at: Account) -> tuple[str, dict]:
    at.client("s3").put_bucket_ownership_controls(
        Bucket=i["bucket"],
        OwnershipControls={"Rules": [{"ObjectOwnership": i["rule"]["objectOwnership"]}]},
    )
    return i["bucket"], {}


def encryption(name: str, i: dict, at: Account) -> tuple[str, dict]:
    rules = []
    for r in i["rules"]:
        default = r["applyServerSideEncryptionByDefault"]
        rule: dict = {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": default["sseAlgorithm"],
                **(
                    {"KMSMasterKeyID": default["kmsMasterKeyId"]}
                    if default.get("kmsMasterKeyId")
                    else {}
                ),
            },
            "BucketKeyEnabled": bool(r.get("bucketKeyEnabled")),
        }
        rules.append(rule)
    at.client("s3").put_bucket_encryption(
        Bucket=i["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return i["bucket"], {}


def versioning(name: str, i: dict, at: Account) -> tuple[str, dict]:
    at.client("s3").put_bucket_versioning(
        Bucket=i["bucket"],
        VersioningConfiguration={"Status": i["versioningConfiguration"]["status"]},
    )
    return i["bucket"], {}


def bucket_policy(name: str, i: dict, at: Account) -> tuple[str, dict]:
    enforced = enforced_bucket_policy(json.loads(i["policy"]))
    if enforced is not None:
        at.client("s3").put_bucket_policy(Bucket=i["bucket"], Policy=json.dumps(enforced))
    return i["bucket"], {}


def lifecycle(name: str, i: dict, at: Account) -> tuple[str, dict]:
    rules = []
    for r in i["rules"]:
        rule: dict = {
            "ID": r["id"],
            "Status": r["status"],
            "Filter": {"Prefix": r["filter"]["prefix"]},
        }
        if "expiration" in r:
            rule["Expiration"] = {"Days": _int(r["expiration"]["days"])}
        if "noncurrentVersionExpiration" in r:
            rule["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": _int(r["noncurrentVersionExpiration"]["noncurrentDays"])
            }
        if "abortIncompleteMultipartUpload" in r:
            rule["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": _int(
                    r["abortIncompleteMultipartUpload"]["daysAfterInitiation"]
                )
            }
        rules.append(rule)
    at.client("s3").put_bucket_lifecycle_configuration(
        Bucket=i["bucket"], LifecycleConfiguration={"Rules": rules}
    )
    return i["bucket"], {}


# -- Lake Formation


def lf_location(name: str, i: dict, at: Account) -> tuple[str, dict]:
    extra = {"RoleArn": i["roleArn"]} if i.get("roleArn") else {}
    at.client("lakeformation").register_resource(
        ResourceArn=i["arn"], UseServiceLinkedRole=bool(i.get("useServiceLinkedRole")), **extra
    )
    return i["arn"], {}


def lf_settings(name: str, i: dict, at: Account) -> tuple[str, dict]:
    def defaults(entries: list[dict] | None) -> list[dict]:
        return [
            {
                "Principal": {"DataLakePrincipalIdentifier": e["principal"]},
                "Permissions": list(e["permissions"]),
            }
            for e in entries or []
        ]

    at.client("lakeformation").put_data_lake_settings(
        DataLakeSettings={
            "DataLakeAdmins": [{"DataLakePrincipalIdentifier": a} for a in i.get("admins", [])],
            "CreateDatabaseDefaultPermissions": defaults(i.get("createDatabaseDefaultPermissions")),
            "CreateTableDefaultPermissions": defaults(i.get("createTableDefaultPermissions")),
            **({"Parameters": dict(i["parameters"])} if i.get("parameters") else {}),
        }
    )
    return f"{at.env.account}-lake-settings", {}


def lf_permissions(name: str, i: dict, at: Account) -> tuple[str, dict]:
    catalog = {"CatalogId": i["catalogId"]} if i.get("catalogId") else {}
    at.client("lakeformation").grant_permissions(
        **catalog,
        Principal={"DataLakePrincipalIdentifier": i["principal"]},
        Resource=lf_resource(i),
        Permissions=list(i["permissions"]),
    )
    return f"{name}-id", {}


APPLIERS: dict[str, Applier] = {
    T.KEY: key,
    T.ALIAS: alias,
    T.DATABASE: database,
    T.TABLE: table,
    T.ROLE: role,
    T.ROLE_POLICY: role_policy,
    T.BUCKET: bucket,
    T.PUBLIC_ACCESS_BLOCK: public_access_block,
    T.OWNERSHIP: ownership,
    T.ENCRYPTION: encryption,
    T.VERSIONING: versioning,
    T.BUCKET_POLICY: bucket_policy,
    T.LIFECYCLE: lifecycle,
    T.LF_RESOURCE: lf_location,
    T.LF_PERMISSIONS: lf_permissions,
    T.LF_SETTINGS: lf_settings,
    T.WORKGROUP: apply_workgroup,
}
