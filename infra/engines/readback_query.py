"""The query path read back from the emulator (`infra.provision.query`): each domain's Athena
workgroup as moto's Athena backend holds it (configuration enforced, results to the domain's
own results bucket, SSE-KMS with the domain key) and that bucket's settings (encrypted with
the domain key, public access blocked, results expiring). Evidence of configuration, not of
enforcement: moto runs no query and enforces no Lake Formation permission."""

from __future__ import annotations

from infra.engines.moto import LocalAws
from infra.engines.readback import Check
from infra.model.mesh import Mesh
from infra.provision.program import StackSettings
from infra.provision.querydocs import RESULTS_EXPIRE_DAYS, output_location


def query_paths(
    mesh: Mesh, settings: StackSettings, aws: LocalAws, key_arns: dict[str, str]
) -> list[Check]:
    names, accounts = settings.names, settings.accounts(mesh)
    checks: list[Check] = []
    for domain in sorted(mesh.domains):
        account = accounts.of(domain)
        workgroup, bucket = names.workgroup(domain), names.query_results_bucket(domain)
        held = aws.athena(account).get_work_group(workgroup)
        config = (held or {}).get("Configuration") or {}
        result = config.get("ResultConfiguration") or {}
        got = (
            config.get("EnforceWorkGroupConfiguration"),
            result.get("OutputLocation"),
            result.get("EncryptionConfiguration"),
        )
        want = (
            True,
            output_location(bucket),
            {"EncryptionOption": "SSE_KMS", "KmsKey": key_arns[domain]},
        )
        checks.append(
            Check(
                "athena",
                domain,
                f"workgroup {workgroup}: enforced, results SSE-KMS in {bucket}",
                got == want,
                "" if got == want else f"got {got if held else 'no workgroup'}",
                account,
            )
        )
        s3 = aws.in_account("s3", account)
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        default = rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        days = [
            r.get("Expiration", {}).get("Days")
            for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        ]
        ok = (
            default.get("KMSMasterKeyID") == key_arns[domain]
            and all(pab.values())
            and len(pab) == 4
            and days == [RESULTS_EXPIRE_DAYS]
        )
        checks.append(
            Check(
                "athena",
                domain,
                f"results bucket {bucket}: domain key, private, expiring after "
                f"{RESULTS_EXPIRE_DAYS} days",
                ok,
                "" if ok else f"got {default}, {pab}, expiry {days}",
                account,
            )
        )
    return checks
