"""The local engine: the mesh program deployed into an embedded, emulated AWS (moto).

The *same* Pulumi program runs under `pulumi.runtime.set_mocks`; here each resource registration
is applied through boto3 to a moto server started in-process on 127.0.0.1, and the ids and ARNs
moto hands back flow into the dependent resources (the bucket encryption gets the real key ARN).
A resource type without an applier is an error naming the type, never silently skipped.

This is the only module that imports moto (but `infra.engines.moto_lftags`, which mends a
gap of moto's Lake Formation while an emulator runs).

Why one module (~520 lines): the emulator and the appliers that write into it are one engine;
keeping them together keeps moto, its stub and its quirks behind this one import.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pulumi
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID

from infra.engines.emulator import AWS_S3_ACTIONS
from infra.engines.moto_lftags import LfTagAppliers, tag_policy_resource, untagged_reads_as_aws
from infra.engines.moto_query import DataFilters, apply_workgroup
from infra.engines.recording import (
    PROVIDER_TYPE,
    ResourceGraph,
    env_of_provider,
    run_program,
)
from infra.errors import MeshError
from infra.model.mesh import Mesh
from infra.provision import types as T
from infra.provision.accounts import DEFAULT_DEPLOY_ROLE
from infra.provision.arns import AwsEnv
from infra.provision.graph import lf_target
from infra.provision.names import parse_logical
from infra.provision.program import StackSettings

ADMIN_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class UnsupportedResource(MeshError, RuntimeError):
    """The program declared a resource type the local engine cannot apply."""


class ApplyError(MeshError, RuntimeError):
    """The emulator refused a resource; names the resource."""


class LocalAws:
    """An embedded moto server on 127.0.0.1 (free port), and boto3 clients into the same
    emulated state.

    moto keeps its state per process, so one LocalAws runs at a time; starting one resets the
    emulated accounts to empty. The server is for other processes (`--keep`, pyarrow, the aws
    CLI); this process's own clients reach moto in-process (moto's botocore stub: the same
    backends, the same IAM enforcement), without HTTP's cost per call, and share one botocore
    session, so each service model is parsed once, not once per role's credentials
    (`bench/local_bench.py` measures the command)."""

    def __init__(
        self,
        region: str,
        deploy_role: str = DEFAULT_DEPLOY_ROLE,
        s3_actions: dict[str, str] = AWS_S3_ACTIONS,
    ) -> None:
        from moto import mock_aws
        from moto.server import ThreadedMotoServer

        self._restore_s3_actions = _authorize_s3_as(s3_actions)
        self._restore_lf_reads = untagged_reads_as_aws()
        self.account = DEFAULT_ACCOUNT_ID  # the platform's: ADMIN_CREDENTIALS are its own
        self.region = region
        self.deploy_role = deploy_role
        self._accounts: dict[str, dict[str, str]] = {}  # account -> administrator credentials
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._config = Config(retries={"max_attempts": 1, "mode": "standard"})
        self._session = boto3.session.Session(region_name=region)
        self._clients: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._in_process = mock_aws()
        self._in_process.start(reset=False)  # the server's state, not a fresh one
        self._post("/moto-api/reset", b"")
        self.enforce_iam(False)

    def credentials(self, account: str) -> dict[str, str]:
        """Administrator credentials in `account`: the platform's own for moto's default
        account, else a session of the deploy role there (moto's STS hands out credentials of
        the account a role ARN names, as AWS does once the role trusts the platform)."""
        if account == DEFAULT_ACCOUNT_ID:
            return ADMIN_CREDENTIALS
        with self._lock:
            cached = self._accounts.get(account)
        if cached is None:
            creds = self.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{self.deploy_role}",
                RoleSessionName="mesh-local-deploy",
            )["Credentials"]
            cached = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
            with self._lock:
                cached = self._accounts.setdefault(account, cached)
        return cached

    def in_account(self, service: str, account: str) -> Any:
        """An administrator's client of `service` in `account`."""
        return self.client(service, self.credentials(account))

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        creds = credentials or ADMIN_CREDENTIALS
        key = (service, creds["aws_access_key_id"])
        with self._lock:
            if key not in self._clients:
                client = self._session.client(service, config=self._config, **creds)
                client.meta.events.register_last("before-send", self._never_to_aws)
                self._clients[key] = client
            return self._clients[key]

    def _never_to_aws(self, request, **kwargs) -> None:
        """Beside moto's stub on `before-send`, which answers every request while the
        emulator runs: once it is stopped, a request would go to AWS itself."""
        if self._stopped:
            raise ApplyError(f"the emulator is stopped: not sending a request to {request.url}")

    def warm_up(self) -> None:
        """One call to each service the program uses, before the program's threads make
        theirs: moto parses a service's model on first use and caches it without a lock, so
        the Pulumi runtime's executor threads each parsed the same large models at once."""
        self.client("s3").list_buckets()
        self.client("iam").list_roles(MaxItems=1)
        self.client("glue").get_databases(MaxResults=1)
        self.client("kms").list_keys(Limit=1)
        self.client("lakeformation").list_permissions(MaxResults=1)
        self.client("sts").get_caller_identity()

    def athena(self, account: str) -> Any:
        """moto's Athena backend of `account`, in this process. botocore (1.44) speaks
        rest-json to Athena and moto 5.2.5 answers Athena only in the json protocol (every
        call is "Not yet implemented"), so workgroups are written and read here, in the
        emulator's own state (`infra.engines.moto_query`)."""
        from moto.athena.models import athena_backends

        return athena_backends[account][self.region]

    def enforce_iam(self, on: bool) -> None:
        """moto checks every request against IAM once its no-auth allowance is 0."""
        self._post("/moto-api/reset-auth", b"0" if on else b"inf")

    def _post(self, path: str, data: bytes) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}{path}", data=data, headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
            response.read()

    def stop(self) -> None:
        self._stopped = True
        self._in_process.stop()
        self._server.stop()
        self._restore_s3_actions()
        self._restore_lf_reads()


def _authorize_s3_as(actions: dict[str, str]) -> Callable[[], None]:
    """moto authorizes each S3 request against the action its request class is given; map it
    to AWS's (`infra.engines.emulator`) while this emulator runs. Returns the undo."""
    from moto.iam.access_control import S3IAMRequest

    original = S3IAMRequest.__init__

    def init(self, *args, **kwargs) -> None:
        if isinstance(kwargs.get("action"), str):  # else as moto gave it: `calibrate` tells
            kwargs["action"] = actions.get(kwargs["action"], kwargs["action"])
        original(self, *args, **kwargs)

    S3IAMRequest.__init__ = init

    def restore() -> None:
        S3IAMRequest.__init__ = original

    return restore


# --------------------------------------------------------------------------- appliers


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


def _lf_resource(inputs: dict) -> dict:
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


@dataclass(frozen=True)
class _Account:
    """Where a resource is applied: the account of its provider, and that account's ARNs."""

    aws: LocalAws
    account: str
    env: AwsEnv

    def client(self, service: str) -> Any:
        return self.aws.in_account(service, self.account)


class MotoMocks(pulumi.runtime.Mocks):
    """Applies each registered resource to the emulator and returns moto's ids and ARNs."""

    def __init__(
        self,
        aws: LocalAws,
        settings: StackSettings,
        on_resource: Callable[[str, str], None] | None = None,
    ) -> None:
        self.aws = aws
        self.env = settings.env
        self.on_resource = on_resource or (lambda typ, name: None)
        # one resource at a time: the Pulumi runtime registers from several threads, and moto's
        # backends are not safe for concurrent writes (in-process, a Lake Formation grant
        # raised "Set changed size during iteration"); under one GIL nothing is lost
        self._applying = threading.Lock()
        self.data_filters = DataFilters()  # moto holds none (infra/engines/moto_query.py)
        self.appliers: dict[str, Callable[[str, dict], tuple[str, dict]]] = {
            T.KEY: self._key,
            T.ALIAS: self._alias,
            T.DATABASE: self._database,
            T.TABLE: self._table,
            T.ROLE: self._role,
            T.ROLE_POLICY: self._role_policy,
            T.BUCKET: self._bucket,
            T.PUBLIC_ACCESS_BLOCK: self._public_access_block,
            T.OWNERSHIP: self._ownership,
            T.ENCRYPTION: self._encryption,
            T.VERSIONING: self._versioning,
            T.BUCKET_POLICY: self._bucket_policy,
            T.LIFECYCLE: self._lifecycle,
            T.LF_RESOURCE: self._lf_location,
            T.LF_PERMISSIONS: self._lf_permissions,
            T.LF_SETTINGS: self._lf_settings,
            T.WORKGROUP: apply_workgroup,
            T.LF_DATA_FILTER: self.data_filters.apply,
            **LfTagAppliers().appliers(),
        }

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        if args.typ == T.STACK_REFERENCE:  # only a domain stack reads the platform stack's
            raise UnsupportedResource(
                f"the local engine deploys one stack for the whole mesh; {args.name!r} reads "
                "another stack's outputs (plan a domain stack with mesh plan --stack DOMAIN)"
            )
        if not args.custom:  # components are not AWS resources
            self.on_resource(args.typ, args.name)
            return None, inputs
        if args.typ == PROVIDER_TYPE:  # a provider of one account: nothing to create
            return f"{args.name}-id", inputs
        applier = self.appliers.get(args.typ)
        if applier is None:
            raise UnsupportedResource(
                f"the local engine cannot apply {args.typ} (resource {args.name!r}); add an "
                "applier in infra/engines/moto.py or leave the type out of the program"
            )
        try:
            with self._applying:
                resource_id, outputs = applier(args.name, inputs, self._account_of(args))
        except UnsupportedResource:
            raise
        except Exception as exc:  # boto3/moto errors: name the resource that failed
            raise ApplyError(f"{args.typ} {args.name!r}: {exc}") from exc
        self.on_resource(args.typ, args.name)
        return resource_id, {**inputs, **outputs}

    def _account_of(self, args: pulumi.runtime.MockResourceArgs) -> _Account:
        env = env_of_provider(self.env, args.provider)
        return _Account(self.aws, env.account, env)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        raise UnsupportedResource(f"the program called the invoke {args.token}; none is mocked")

    # -- KMS
    def _key(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        kms = at.client("kms")
        meta = kms.create_key(
            Description=i.get("description", ""),
            Policy=i["policy"],
            Tags=[{"TagKey": k, "TagValue": v} for k, v in sorted(i.get("tags", {}).items())],
        )["KeyMetadata"]
        if i.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        return meta["KeyId"], {"arn": meta["Arn"], "keyId": meta["KeyId"]}

    def _alias(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        at.client("kms").create_alias(AliasName=i["name"], TargetKeyId=i["targetKeyId"])
        arn = f"arn:{at.env.partition}:kms:{at.env.region}:{at.env.account}:{i['name']}"
        return i["name"], {"arn": arn}

    # -- Glue
    def _database(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        database: dict[str, Any] = {"Name": i["name"], "Description": i.get("description", "")}
        target = i.get("targetDatabase")
        if target:  # a resource link to a database of another account's catalog
            database["TargetDatabase"] = {
                "CatalogId": target["catalogId"],
                "DatabaseName": target["databaseName"],
            }
        at.client("glue").create_database(DatabaseInput=database, Tags=i.get("tags", {}))
        arn = at.env.glue_database_arn(i["name"])
        return f"{at.env.account}:{i['name']}", {"arn": arn}

    def _table(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
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
    def _role(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        role = at.client("iam").create_role(
            RoleName=i["name"],
            AssumeRolePolicyDocument=i["assumeRolePolicy"],
            Description=i.get("description", ""),
            MaxSessionDuration=_int(i.get("maxSessionDuration", 3600)),
            Tags=_tags_list(i.get("tags")),
        )["Role"]
        return role["RoleName"], {"arn": role["Arn"], "uniqueId": role["RoleId"]}

    def _role_policy(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        at.client("iam").put_role_policy(
            RoleName=i["role"], PolicyName=i["name"], PolicyDocument=i["policy"]
        )
        return f"{i['role']}:{i['name']}", {}

    # -- S3
    def _bucket(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        s3 = at.client("s3")
        s3.create_bucket(
            Bucket=i["bucket"],
            CreateBucketConfiguration={"LocationConstraint": at.env.region},
        )
        if i.get("tags"):
            s3.put_bucket_tagging(Bucket=i["bucket"], Tagging={"TagSet": _tags_list(i["tags"])})
        return i["bucket"], {"arn": at.env.bucket_arn(i["bucket"]), "bucket": i["bucket"]}

    def _public_access_block(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
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

    def _ownership(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        at.client("s3").put_bucket_ownership_controls(
            Bucket=i["bucket"],
            OwnershipControls={"Rules": [{"ObjectOwnership": i["rule"]["objectOwnership"]}]},
        )
        return i["bucket"], {}

    def _encryption(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
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

    def _versioning(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        at.client("s3").put_bucket_versioning(
            Bucket=i["bucket"],
            VersioningConfiguration={"Status": i["versioningConfiguration"]["status"]},
        )
        return i["bucket"], {}

    def _bucket_policy(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        enforced = enforced_bucket_policy(json.loads(i["policy"]))
        if enforced is not None:
            at.client("s3").put_bucket_policy(Bucket=i["bucket"], Policy=json.dumps(enforced))
        return i["bucket"], {}

    def _lifecycle(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
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
    def _lf_location(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        extra = {"RoleArn": i["roleArn"]} if i.get("roleArn") else {}
        at.client("lakeformation").register_resource(
            ResourceArn=i["arn"], UseServiceLinkedRole=bool(i.get("useServiceLinkedRole")), **extra
        )
        return i["arn"], {}

    def _lf_settings(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
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
                "CreateDatabaseDefaultPermissions": defaults(
                    i.get("createDatabaseDefaultPermissions")
                ),
                "CreateTableDefaultPermissions": defaults(i.get("createTableDefaultPermissions")),
                **({"Parameters": dict(i["parameters"])} if i.get("parameters") else {}),
            }
        )
        return f"{at.env.account}-lake-settings", {}

    def _lf_permissions(self, name: str, i: dict, at: _Account) -> tuple[str, dict]:
        catalog = {"CatalogId": i["catalogId"]} if i.get("catalogId") else {}
        at.client("lakeformation").grant_permissions(
            **catalog,
            Principal={"DataLakePrincipalIdentifier": i["principal"]},
            Resource=_lf_resource(i),
            Permissions=list(i["permissions"]),
        )
        return f"{name}-id", {}


def domain_of(resource_name: str) -> str:
    """Logical names start with the domain: `sales`, `sales-key`, `sales.orders@marketing-iam`."""
    return parse_logical(resource_name).domain


@dataclass
class Deployment:
    aws: LocalAws
    graph: ResourceGraph


def deploy(
    mesh: Mesh,
    settings: StackSettings,
    today: dt.date,
    aws: LocalAws,
    on_resource: Callable[[str, str], None] | None = None,
) -> Deployment:
    """Run the mesh program with every resource applied to the emulator: first, as a real
    rollout does, the bootstrap stack (the deploy role of each domain account other than the
    platform's, which `mesh doctor --local` checks), then the mesh."""
    aws.warm_up()
    if settings.accounts(mesh).foreign(mesh.all_domains):
        bootstrap = replace(settings, bootstrap=True)
        run_program(mesh, bootstrap, today, mocks=MotoMocks(aws, bootstrap, on_resource))
        # the Organization's RAM sharing, which cross-account grants rely on (the management
        # account enables it, outside every stack): the platform account's organization here
        orgs = aws.in_account("organizations", settings.account)
        orgs.create_organization(FeatureSet="ALL")
        orgs.enable_aws_service_access(ServicePrincipal="ram.amazonaws.com")
    graph = run_program(mesh, settings, today, mocks=MotoMocks(aws, settings, on_resource))
    return Deployment(aws, graph)
