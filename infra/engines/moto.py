"""The local engine's emulator: an embedded, emulated AWS (moto) and clients into it.

The *same* Pulumi program runs under `pulumi.runtime.set_mocks` (`infra.engines.moto_deploy`);
each resource registration is applied through boto3 (`infra.engines.moto_appliers`) to the moto
server this module starts in-process on 127.0.0.1, and the ids and ARNs moto hands back flow
into the dependent resources (the bucket encryption gets the real key ARN).

moto is imported only behind the local engine: here (the emulator's lifecycle), in
`infra.engines.moto_s3auth` (S3 authorized by AWS's actions) and in `infra.engines.moto_lftags`
(a gap of moto's Lake Formation mended while an emulator runs); the import-linter contract
"only the moto engine imports moto" (pyproject.toml) names them.
"""

from __future__ import annotations

import threading
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID

from infra.engines.emulator import AWS_S3_ACTIONS
from infra.engines.moto_lftags import untagged_reads_as_aws
from infra.engines.moto_s3auth import authorize_s3_as
from infra.errors import MeshError
from infra.provision.accounts import DEFAULT_DEPLOY_ROLE

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

        self._restore_s3_actions = authorize_s3_as(s3_actions)
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
