"""The query path (`infra.provision.query`): each domain's Athena workgroup, results location
and the statements to use them, exactly; and the evaluator's verdict that a role *can query*
a product only when every link holds, naming the one that does not."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import SAMPLE, SINGLE, TODAY

from infra.audit.audit import audit
from infra.blueprints.load import load_mesh
from infra.engines.recording import run_program
from infra.model.access import LF_ENGINES
from infra.provision import querydocs as query
from infra.provision.documents import AwsEnv
from infra.provision.program import StackSettings

ENV = AwsEnv(account="123456789012", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"


def test_the_query_policy_names_only_its_domain_s_workgroup_location_and_key():
    path = query.QueryPathArgs("mesh-sales", "mesh-sales-athena")
    assert query.query_policy(ENV, path, KEY) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UseDomainWorkgroup",
                "Effect": "Allow",
                "Action": [
                    "athena:BatchGetQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:GetQueryRuntimeStatistics",
                    "athena:GetWorkGroup",
                    "athena:ListQueryExecutions",
                    "athena:StartQueryExecution",
                    "athena:StopQueryExecution",
                ],
                "Resource": "arn:aws:athena:eu-west-1:123456789012:workgroup/mesh-sales",
            },
            {
                "Sid": "ListQueryResults",
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                "Resource": "arn:aws:s3:::mesh-sales-athena",
            },
            {
                "Sid": "ReadWriteQueryResults",
                "Effect": "Allow",
                "Action": [
                    "s3:AbortMultipartUpload",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:PutObject",
                ],
                "Resource": "arn:aws:s3:::mesh-sales-athena/results/*",
            },
            {
                "Sid": "EncryptQueryResults",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": KEY,
                "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
            },
            {
                "Sid": "ReadDefaultDatabase",
                "Effect": "Allow",
                "Action": ["glue:GetDatabase"],
                "Resource": [
                    "arn:aws:glue:eu-west-1:123456789012:catalog",
                    "arn:aws:glue:eu-west-1:123456789012:database/default",
                ],
            },
        ],
    }


def test_workgroup_configuration_is_enforced_and_encrypted():
    assert query.workgroup_configuration(ENV, "mesh-sales-athena", KEY) == {
        "enforce_workgroup_configuration": True,
        "publish_cloudwatch_metrics_enabled": True,
        "result_configuration": {
            "output_location": "s3://mesh-sales-athena/results/",
            "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": KEY},
            "expected_bucket_owner": "123456789012",
        },
    }
    assert query.results_lifecycle_rules() == [
        {
            "id": "query-results",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"days": 7},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
        }
    ]


def test_results_bucket_and_workgroup_of_a_domain(graph):
    bucket = graph.get("aws:s3/bucket:Bucket", "sales-query-results")
    assert bucket.parent == "sales"
    assert (bucket.protect, bucket.retain_on_delete, bucket.inputs["forceDestroy"]) == (
        True,
        True,
        False,
    )
    workgroup = graph.get("aws:athena/workgroup:Workgroup", "sales-workgroup")
    assert workgroup.inputs["name"] == "mesh-sales"
    assert workgroup.inputs["forceDestroy"] is False
    assert workgroup.inputs["tags"]["mesh:domain"] == "sales"
    policy = json.loads(
        graph.get("aws:s3/bucketPolicy:BucketPolicy", "sales-query-results-policy").inputs["policy"]
    )
    assert [s["Sid"] for s in policy["Statement"]] == [
        "DenyInsecureTransport",
        "DenyOtherEncryption",
        "DenyOtherKmsKeys",
        "DenyCustomerProvidedKeys",
    ]


# ---------------------------------------------------------------- the evaluator


@pytest.fixture(scope="module")
def mesh():
    return load_mesh(SINGLE, today=TODAY).mesh


@pytest.fixture(scope="module")
def graph(mesh):
    return run_program(mesh, StackSettings(), TODAY)


def _without(resources, name: str) -> list:
    return [r for r in copy.deepcopy(resources) if r.name != name]


def _changed(resources, name: str, change) -> list:
    out = copy.deepcopy(resources)
    (target,) = [r for r in out if r.name == name]
    change(target.inputs)
    return out


def _drop_statement(sid: str):
    def change(inputs):
        doc = json.loads(inputs["policy"])
        doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != sid]
        inputs["policy"] = json.dumps(doc)

    return change


def _athena_lost(outcome, principal: str) -> list[str]:
    """The products whose grant to `principal` lost Athena (and only Athena)."""
    lost = []
    for d in outcome.differences:
        if d.principal != principal:
            continue
        assert (d.kind, d.fields) == ("mismatch", ("engines",)), d
        assert "athena" in d.declared["engines"] and "athena" not in d.effective["engines"]
        lost.append(d.product)
    return lost


def test_the_sample_can_query_every_grant_with_every_engine(mesh, graph):
    outcome = audit(mesh, graph.resources, TODAY)
    assert outcome.differences == [] and outcome.detail.problems == []
    reads = [g for g in outcome.effective if g.access == "read"]
    assert reads and all(set(LF_ENGINES) <= set(g.engines) for g in reads)


def test_a_consumer_without_its_workgroup_statement_cannot_query(mesh, graph):
    broken = _changed(
        graph.resources, "marketing-consumer-query", _drop_statement("UseDomainWorkgroup")
    )
    outcome = audit(mesh, broken, TODAY)
    assert _athena_lost(outcome, "marketing:consumer") == ["finance.revenue_daily", "sales.orders"]
    assert [p for p in outcome.detail.problems if p.startswith("marketing:consumer")] == [
        f"marketing:consumer cannot query {product} with Athena: IAM does not allow "
        "athena:StartQueryExecution on workgroup mesh-marketing; IAM does not allow "
        "athena:GetQueryResults on workgroup mesh-marketing"
        for product in ("finance.revenue_daily", "sales.orders")
    ]
    assert not outcome.ok


def test_a_consumer_without_describe_on_default_cannot_query(mesh, graph):
    broken = _without(graph.resources, "finance-consumer-default-describe")
    outcome = audit(mesh, broken, TODAY)
    assert _athena_lost(outcome, "finance:consumer") == ["marketing.campaigns", "sales.orders"]
    assert all(
        p.endswith("with Athena: no Lake Formation DESCRIBE on the default database in "
                   "account 123456789012")
        for p in outcome.detail.problems
    ) and len(outcome.detail.problems) == 2  # fmt: skip


def test_a_workgroup_that_does_not_enforce_or_writes_elsewhere_breaks_the_path(mesh, graph):
    def loosen(inputs):
        inputs["configuration"]["enforceWorkgroupConfiguration"] = False
        result = inputs["configuration"]["resultConfiguration"]
        result["outputLocation"] = "s3://mesh-finance-athena/results/"

    outcome = audit(mesh, _changed(graph.resources, "sales-workgroup", loosen), TODAY)
    assert _athena_lost(outcome, "sales:consumer") == [
        "logistics.shipments",
        "logistics.stock_levels",
    ]
    [problem, *_] = [p for p in outcome.detail.problems if p.startswith("sales:consumer")]
    assert "workgroup mesh-sales does not enforce its configuration" in problem
    assert (
        "the results location of workgroup mesh-sales (mesh-finance-athena) is not a "
        "results bucket of domain sales" in problem
    )


def test_a_key_policy_without_the_consumer_s_results_statement_breaks_the_path(mesh, graph):
    outcome = audit(
        mesh,
        _changed(
            graph.resources, "logistics-key", _drop_statement("ConsumerQueryResultsThroughS3")
        ),
        TODAY,
    )
    assert _athena_lost(outcome, "logistics:consumer") == ["sales.orders"]
    assert [p.partition(": ")[2] for p in outcome.detail.problems] == [
        (
            "IAM or the key policy does not allow kms:GenerateDataKey on "
            f"{graph.get('aws:kms/key:Key', 'logistics-key').outputs['arn']}; IAM or the key "
            "policy does not allow kms:Decrypt on "
            f"{graph.get('aws:kms/key:Key', 'logistics-key').outputs['arn']}"
        )
    ]


def test_a_permission_on_a_data_filter_that_does_not_exist_grants_nothing(mesh, graph):
    broken = _without(graph.resources, "sales.orders@marketing-data-filter")
    outcome = audit(mesh, broken, TODAY)
    assert [(d.kind, d.principal, d.product) for d in outcome.differences] == [
        ("missing", "marketing:consumer", "sales.orders")
    ]
    assert any(
        "names data cells filter marketing-" in p and "which does not exist" in p
        for p in outcome.detail.problems
    )


# ---------------------------------------------------------------- ODCS carries the row filter


def test_an_odcs_contract_carries_a_grant_s_row_filter(tmp_path):
    """Export the sample's row-filtered grant (logistics.stock_levels to sales), import it into
    a copy of the blueprints whose grant lost its `rows:`: the filter is back, unchanged."""
    import shutil

    from typer.testing import CliRunner

    from infra.cli import app

    rows = "warehouse IN ('BER-1', 'MUC-2') AND on_hand >= 0"
    runner = CliRunner()
    out = tmp_path / "contracts"
    run = runner.invoke(
        app, ["contract", "export", str(SAMPLE), "--out", str(out), "--product",
              "logistics.stock_levels"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    copy_dir = tmp_path / "blueprints"
    shutil.copytree(SAMPLE, copy_dir)
    logistics = copy_dir / "logistics.yaml"
    text = logistics.read_text()
    assert f'rows: "{rows}"' in text
    logistics.write_text(text.replace(f'        rows: "{rows}"\n', ""))
    run = runner.invoke(
        app, ["contract", "import", str(out / "logistics.stock_levels.odcs.yaml"),
              "--domain", "logistics", "--into", str(copy_dir)],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    mesh = load_mesh(copy_dir, today=TODAY).mesh
    _, product = mesh.product("logistics.stock_levels")
    [grant] = product.consumers
    assert (grant.domain, grant.rows) == ("sales", rows)


def test_the_evaluator_reads_rows_through_the_data_filter():
    """In the sample, sales reads logistics.stock_levels' rows of two warehouses: effective
    as declared; a filter that lets every row through is a mismatch of `row_filter`."""
    sample = load_mesh(SAMPLE, today=TODAY).mesh
    resources = run_program(sample, StackSettings(), TODAY).resources
    outcome = audit(sample, resources, TODAY)
    assert outcome.differences == [] and outcome.detail.problems == []
    [grant] = [
        g for g in outcome.effective
        if (g.principal, g.product) == ("sales:consumer", "logistics.stock_levels")
    ]  # fmt: skip
    assert grant.row_filter == "warehouse IN ('BER-1', 'MUC-2') AND on_hand >= 0"
    assert grant.columns == ("on_hand", "sku", "snapshot_at", "warehouse")

    def every_row(inputs):
        inputs["tableData"]["rowFilter"] = {"allRowsWildcard": {}}

    widened = _changed(resources, "logistics.stock_levels@sales-data-filter", every_row)
    [diff] = audit(sample, widened, TODAY).differences
    assert (diff.kind, diff.principal, diff.fields) == (
        "mismatch",
        "sales:consumer",
        ("row_filter",),
    )
    assert diff.effective["row_filter"] is None


def test_mesh_policies_says_what_a_consumer_can_run():
    from typer.testing import CliRunner

    from infra.cli import app

    run = CliRunner().invoke(app, ["policies", "--format", "json"])
    assert run.exit_code == 0, run.output
    engines = {e["engine"]: e["needs"] for e in json.loads(run.stdout)["engines"]}
    assert list(engines) == ["athena", "redshift-spectrum", "glue-etl", "s3"]
    assert "workgroup" in engines["athena"] and "DESCRIBE" in engines["athena"]
    assert "data cells filters" in engines["glue-etl"]
    assert "s3_direct" in engines["s3"]
    text = CliRunner().invoke(app, ["policies"]).stdout
    assert "What a consumer can run on a grant, and what each engine needs:" in text
