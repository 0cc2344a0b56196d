"""The effective-access evaluator's questions: S3, KMS and IAM requests decided against the
graph's documents (`iameval.decide`), each document looked up by what it attaches to, decisions
and resource-policy evaluations memoised, uncertainties recorded once. `infra.audit.effective`
asks them for every reachable (caller, product) pair."""

from __future__ import annotations

from typing import Any

from infra.audit.docindex import CALLER_KEYS, Candidates, principal_shape
from infra.audit.iameval import (
    Caller,
    Decision,
    Evaluation,
    Request,
    StatementHit,
    decide,
    evaluate,
)
from infra.audit.view import Bucket, MeshGraph, PolicyDoc, Role, Table

PROBE_OBJECT = "data/audit-probe"  # an object key under the table location


def same_account(account: str, role: Role) -> bool:
    """An inline policy applies to a role only when created in the role's account ("" on
    either side: a graph recorded without accounts, one account)."""
    return not account or not role.account or account == role.account


def account_region(arn: str) -> tuple[str, str, str]:
    parts = arn.split(":")
    return parts[1], parts[3], parts[4]  # partition, region, account


class Evaluator:
    """Evaluates requests against the graph's documents, looked up by what they attach to
    (one pass over the documents, not one per request)."""

    def __init__(self, graph: MeshGraph, now: str) -> None:
        self.g = graph
        self.now = now  # aws:CurrentTime of every request
        self.uncertain: list[str] = []
        self.inline: dict[str, list[PolicyDoc]] = {}
        self.resource_docs: dict[tuple[str, str], list[PolicyDoc]] = {}
        for d in graph.documents:
            if d.kind == "inline":
                self.inline.setdefault(d.attached_to, []).append(d)
            elif d.kind in ("bucket", "key"):
                self.resource_docs.setdefault((d.kind, d.attached_to), []).append(d)
        self._candidates: dict[str, Candidates] = {}
        # decisions asked again return the first answer (its uncertainties are recorded once)
        self._decisions: dict[tuple, Decision] = {}
        self._shapes: dict[str, tuple[Any, ...] | bool] = {}
        self._evaluations: dict[tuple, Evaluation] = {}
        self._roles_by_arn: dict[str, Role] = {}
        for role in graph.roles.values():
            self._roles_by_arn.setdefault(role.arn, role)  # the first, as MeshGraph.role_by_arn
        self._tables: dict[str, list[Table]] = {}
        for (database, _), table in sorted(graph.tables.items()):
            self._tables.setdefault(database, []).append(table)
        # (account, (catalog, database)) -> the resource links in that account pointing there
        self._links: dict[tuple[str, tuple[str, str]], list[str]] = {}
        for (account, name), target in sorted(graph.links.items()):
            self._links.setdefault((account, target), []).append(name)

    def role_by_arn(self, arn: str) -> Role | None:
        try:
            return self._roles_by_arn.get(arn)
        except TypeError:  # not a string: names no role
            return None

    def tables_of(self, database: str) -> list[Table]:
        return self._tables.get(database, [])

    def links_to(self, account: str, catalog: str, database: str) -> list[str]:
        """The resource links in `account`'s catalog that target `catalog`:`database`."""
        return self._links.get((account, (catalog, database)), [])

    def _identity(self, role: Role | None, request: Request) -> list[Evaluation]:
        if role is None:
            return []
        candidates = self._candidates.get(role.name)
        if candidates is None:
            candidates = Candidates(
                [d for d in self.inline.get(role.name, []) if same_account(d.account, role)]
            )
            self._candidates[role.name] = candidates
        return [evaluate(d.document, d.id, request) for d in candidates.matching(request)]

    def _record(self, decision: Decision) -> Decision:
        self.uncertain.extend(u for u in decision.uncertain if u not in self.uncertain)
        return decision

    def s3(self, role: Role | None, caller: Caller, bucket: Bucket, action: str) -> Decision:
        return self.s3_object(role, caller, bucket.name, f"{bucket.arn}/{PROBE_OBJECT}", action)

    def s3_object(
        self, role: Role | None, caller: Caller, bucket: str, object_arn: str, action: str
    ) -> Decision:
        """`action` on the object `object_arn` of `bucket`: identity and bucket policies."""
        request = Request(
            action,
            object_arn,
            {
                "aws:SecureTransport": "true",
                "aws:PrincipalArn": caller.arn,
                "aws:CurrentTime": self.now,
            },
        )
        if caller.account:
            request.context["aws:PrincipalAccount"] = caller.account
        resource = [
            self._resource_policy(d, request, caller)
            for d in self.resource_docs.get(("bucket", bucket), ())
        ]
        return self._record(decide(self._identity(role, request), resource, False))

    def _resource_policy(self, doc: PolicyDoc, request: Request, caller: Caller) -> Evaluation:
        """`evaluate(doc, request, caller)`, shared by the callers it cannot tell apart.

        A resource policy sees the caller only through its statements' Principal/NotPrincipal
        (`Caller.matches`) and the condition keys naming the caller: callers that every
        statement's principal matches the same way get the same evaluation when no condition
        reads those keys. Every bucket is probed with every principal; most of them are named
        by nothing in its policy."""
        shape = self._shapes.get(doc.id)
        if shape is None:
            shape = self._shapes[doc.id] = principal_shape(doc.document)
        if shape is False:  # conditions on the caller, or a shape not understood
            return evaluate(doc.document, doc.id, request, caller)
        context = tuple(
            sorted((k, str(v)) for k, v in request.context.items() if k not in CALLER_KEYS)
        )
        matches = tuple(caller.matches(p) for p in shape)
        key = (doc.id, request.action, request.resource, context, matches)
        evaluation = self._evaluations.get(key)
        if evaluation is None:
            evaluation = evaluate(doc.document, doc.id, request, caller)
            self._evaluations[key] = evaluation
        return evaluation

    def kms(
        self,
        role: Role | None,
        caller: Caller,
        key_arn: str,
        action: str,
        via_s3: str | None,
        identity_unknown: bool = False,
    ) -> Decision:
        """`via_s3`: the ARN of the bucket whose objects S3 en- or decrypts (kms:ViaService and
        the S3 encryption context, which is the bucket's ARN with S3 Bucket Keys); None when
        the key is used directly."""
        # a pure function of its arguments and the graph: asked once per Lake Formation grant
        memo_key = ("kms", role, caller, key_arn, action, via_s3, identity_unknown)
        decision = self._decisions.get(memo_key)
        if decision is not None:
            return decision
        _, region, _ = account_region(key_arn)
        context: dict = {
            "aws:SecureTransport": "true",
            "aws:PrincipalArn": caller.arn,
            "aws:CurrentTime": self.now,
        }
        if caller.account:
            context["aws:PrincipalAccount"] = caller.account
            context["kms:CallerAccount"] = caller.account
        if via_s3:
            context["kms:ViaService"] = f"s3.{region}.amazonaws.com"
            context["kms:EncryptionContext:aws:s3:arn"] = via_s3
        request = Request(action, key_arn, context)
        resource = [
            evaluate(d.document, d.id, request, caller)
            for d in self.resource_docs.get(("key", key_arn), ())
        ]
        identity = self._identity(role, request)
        if identity_unknown:  # an AWS-managed role: its identity side is assumed to allow
            identity = [
                Evaluation(allows=[StatementHit("(AWS-managed role policy)", None, "Allow")])
            ]
        decision = self._decisions[memo_key] = self._record(decide(identity, resource, True))
        return decision

    def iam_allows(self, role: Role, action: str, resource: str) -> Decision:
        # the same few questions (GetDataAccess, the catalog ARN) for every grant of a role
        memo_key = ("iam", role, action, resource)
        decision = self._decisions.get(memo_key)
        if decision is None:
            request = Request(
                action, resource, {"aws:PrincipalArn": role.arn, "aws:CurrentTime": self.now}
            )
            decision = self._record(decide(self._identity(role, request), [], False))
            self._decisions[memo_key] = decision
        return decision
