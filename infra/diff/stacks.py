"""Which stacks a change touches, and in what order they deploy (`mesh stacks`).

The project's stacks are its stack configs (`Pulumi.<stack>.yaml` beside the blueprint
directory): in stack-per-domain mode (a config with `mesh:stack: platform`) the platform stack
and one stack per domain, otherwise the configs of the whole mesh (`mesh:stack: all`).

What a stack's resources depend on decides which change touches it. In this program a domain
stack declares the domain's roles, storage and products, and *every grant it gives*: the Lake
Formation permissions, the resource link in each consumer account and the link's DESCRIBE
(`infra.provision.program.build_mesh`). It loads only its own blueprint; of the other domains it
knows their names and accounts. So:

- a blueprint change touches its own stack (a grant, a product, a schema: all in it);
- a domain moving accounts touches its stack and every stack granting to it (the grant's
  principal and the resource link move with the consumer role);
- a change of the accounts the mesh spans touches the platform stack (each account's Lake
  Formation settings), and a mesh becoming multi-account every domain stack (the consumer role's
  catalog read, the cross-account settings);
- a stack config change touches that stack; `_mesh.yaml` touches no stack while what it holds
  (approvers, owners, the accounts list) declares no resource: any other key of it touches
  every stack.

Order (waves): the platform before every domain stack (a new account's Lake Formation settings,
its deploy role as administrator); a consumer whose role is created or moves before every
producer granting to it (a Lake Formation grant to a role that does not exist fails). A
producer's database and the consumer's resource link need no order between stacks: the link is
in the producer's stack. Stacks that need each other first (two new domains granting each
other) share a wave, with a warning: the grant of the first to finish is retried by a second run.

Pure: reads YAML and blueprints, never Pulumi or AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from infra.blueprints.load import SharedFiles, load_mesh
from infra.diff.stack_configs import (
    DEFAULT_ACCOUNT,
    SCOPE_ALL,
    SCOPE_PLATFORM,
    StackConfig,
    config_problems,
    per_domain,
    project_configs,
)
from infra.errors import UsageError
from infra.governance.stack_configs import project_dir as project_of
from infra.model import lftags
from infra.model.access import active_grants
from infra.model.mesh import Mesh

MATRIX_MAX = 256  # jobs one GitHub Actions matrix may generate
# `_mesh.yaml` keys that declare no resource (read by validation only)
PLATFORM_FILE_NO_RESOURCES = frozenset({"approvers", "owners", "accounts"})


@dataclass
class Stack:
    """A stack to deploy: its name, the account its domain lives in (the platform's for the
    platform and whole-mesh stacks) and why it is deployed."""

    name: str
    account: str
    reasons: list[str] = field(default_factory=list)
    action: str = "up"  # "destroy": the stack of a removed (retired) domain


@dataclass
class Rollout:
    """`mesh stacks`: the stacks (touched by the change, or all), their waves, and what is wrong
    with the project's stack configs."""

    stacks: list[Stack]
    waves: list[list[str]]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "waves": self.waves,
            "stacks": [
                {"name": s.name, "reasons": s.reasons, "action": s.action} for s in self.stacks
            ],
            "problems": self.problems,
            "warnings": self.warnings,
        }

    def matrices(self) -> list[list[dict]]:
        """Each wave as GitHub Actions matrices of at most 256 jobs (`strategy.matrix`):
        `{"include": [{"stack", "account", "action"}, ...]}`, in chunks."""
        by_name = {s.name: s for s in self.stacks}
        out = []
        for wave in self.waves:
            rows = [
                {"stack": n, "account": by_name[n].account, "action": by_name[n].action}
                for n in wave
            ]
            out.append(
                [{"include": rows[i : i + MATRIX_MAX]} for i in range(0, len(rows), MATRIX_MAX)]
            )
        return out


# --- what a change touches ---------------------------------------------------------------


def _load(directory: Path, shared: SharedFiles) -> Mesh:
    report = load_mesh(directory, shared=shared)
    if report.errors:
        first = report.errors[0]
        raise UsageError(
            f"{directory}: {len(report.errors)} blueprint error(s), e.g. {first.where}: "
            f"{first.code} {first.message} (mesh validate {directory} lists them)"
        )
    return report.mesh


def _platform_file(mesh: Mesh) -> dict:
    return mesh.platform.spec.model_dump(mode="json") if mesh.platform is not None else {}


def _accounts(mesh: Mesh, platform_account: str, single: bool) -> dict[str, str]:
    return {
        d: platform_account if single else (mesh.account_of(d) or platform_account)
        for d in mesh.all_domains
    }


def _grants_to(mesh: Mesh) -> dict[str, set[str]]:
    """consumer domain -> the producer domains granting to it (active grants, today)."""
    out: dict[str, set[str]] = {}
    for bp in mesh.blueprints:
        for product in bp.products:
            for c in active_grants(mesh, bp, product, _today()):
                out.setdefault(c.domain, set()).add(bp.domain)
    # a domain's tag grants are in its stack, and a producer's stack holds the resource link of
    # every grantee a tag grant lets read its products (`infra.provision.lftags`)
    for ref in lftags.tag_grant_refs(mesh):
        if ref.scope != lftags.MESH_SCOPE:
            out.setdefault(ref.grant.domain, set()).add(ref.scope)
        for match in lftags.expand(mesh, ref, _today()):
            out.setdefault(ref.grant.domain, set()).add(match.domain)
    return out


def _homes(accounts: dict[str, str]) -> dict[str, list[str]]:
    """account -> the domains living there, sorted."""
    return {a: sorted(d for d, x in accounts.items() if x == a) for a in set(accounts.values())}


def _tag_reasons(head: Mesh, base: Mesh, stacks, name, accounts, base_accounts, plat) -> None:
    """Tag-based access (`infra.provision.lftags`): the platform stack creates the LF-tags of
    every account (the `domain` tag holds the domains living there), and the stack of each
    grantee of a mesh-wide tag grant one permission per account of the mesh."""
    if not (lftags.enabled(head) or lftags.enabled(base)):
        return
    now, before = _homes(accounts), _homes(base_accounts)
    moved = sorted(a for a in set(now) | set(before) if now.get(a) != before.get(a))
    if moved and not any("joins the mesh" in r or "leaves the mesh" in r for r in plat):
        plat.append(f"the domains of account(s) {', '.join(moved)} change: their LF-tag 'domain'")
    if set(now) != set(before):
        grantees = {
            r.grant.domain for r in lftags.tag_grant_refs(head) if r.scope == lftags.MESH_SCOPE
        }
        for d in sorted(grantees & set(head.domains)):
            stacks[name(d)].reasons.append(
                "the accounts of the mesh change: its mesh-wide tag grants are one permission per account"
            )


def _today():
    from infra import clock

    return clock.today()


def rollout(
    directory: Path,
    base: Path | None = None,
    project_dir: Path | None = None,
    only: str | None = None,
) -> Rollout:
    """The stacks of the project of the blueprints in `directory` (its configs beside it,
    or in `project_dir`) and their waves; with `base` only those the change from BASE touches,
    each with its reasons. `only`: just that stack (a deploy by hand)."""
    project_dir = project_dir or project_of(directory)
    shared = SharedFiles()
    head = _load(directory, shared)
    configs = project_configs(project_dir)
    problems = config_problems(configs, head.domains)
    if not per_domain(configs):
        names = [c.name for c in configs if c.scope == SCOPE_ALL] or ["dev"]
        account = next((c.account for c in configs), DEFAULT_ACCOUNT)
        stacks = {n: Stack(n, account) for n in names}
        if base is not None:
            reasons = _whole_mesh_reasons(head, _load(base, shared))
            for s in stacks.values():
                s.reasons = list(reasons)
            stacks = {n: s for n, s in stacks.items() if s.reasons}
        return _finish(stacks, {}, problems, [], only)

    platform = (
        next(c for c in configs if c.scope == SCOPE_PLATFORM)
        if any(c.scope == SCOPE_PLATFORM for c in configs)
        else StackConfig(SCOPE_PLATFORM, project_dir / "Pulumi.platform.yaml", SCOPE_PLATFORM, {})
    )
    single = platform.single_account
    stack_of = {c.scope: c.name for c in configs if c.scope not in (SCOPE_ALL, SCOPE_PLATFORM)}
    accounts = _accounts(head, platform.account, single)

    def name(domain: str) -> str:
        return stack_of.get(domain, domain)

    stacks: dict[str, Stack] = {platform.name: Stack(platform.name, platform.account)}
    for d in head.domains:
        stacks[name(d)] = Stack(name(d), accounts[d])
    edges: set[tuple[str, str]] = set()
    grants_to = _grants_to(head)
    warnings: list[str] = []
    if base is None:
        created = set(head.domains)  # a first deploy: every role is new
    else:
        base_mesh = _load(base, shared)
        base_configs = {c.name: c for c in project_configs(project_of(base))}
        created = _touch(
            head, base_mesh, stacks, name, platform, accounts, single, configs, base_configs
        )
        removed = sorted(set(base_mesh.domains) - set(head.domains))
        # a removed domain's config stays until its stack is destroyed: not a problem yet
        problems = config_problems(configs, [*head.domains, *removed])
        for d in removed:
            stacks[name(d)] = Stack(
                name(d),
                base_mesh.account_of(d) or platform.account,
                [
                    (
                        f"blueprint removed: pulumi destroy releases the stack (what the retirement "
                        f"left deletable is deleted, protected data stays); then remove "
                        f"Pulumi.{name(d)}.yaml"
                    )
                ],
                action="destroy",
            )
        stacks = {n: s for n, s in stacks.items() if s.reasons}
        for d in removed:  # after every other stack (those that granted to it drop it first)
            edges |= {(n, name(d)) for n in stacks if stacks[n].action == "up"}
    if platform.name in stacks:
        edges |= {(platform.name, n) for n in stacks if n != platform.name}
    for consumer in created:
        for producer in grants_to.get(consumer, ()):
            a, b = name(consumer), name(producer)
            if a != b and a in stacks and b in stacks:
                edges.add((a, b))
    return _finish(stacks, edges, problems, warnings, only)


def _touch(head, base_mesh, stacks, name, platform, accounts, single, configs, base_configs):
    """Give each stack the change touches its reasons; return the domains whose roles are
    created or move (their stacks go before the stacks granting to them)."""
    created: set[str] = set()
    base_accounts = _accounts(base_mesh, platform.account, single)
    for bp in head.blueprints:
        d = bp.domain
        reasons = stacks[name(d)].reasons
        if d not in base_mesh.domains:
            reasons.append("new domain")
            created.add(d)
            continue
        if bp != base_mesh.blueprint(d):
            reasons.append("blueprint changed")
        if accounts[d] != base_accounts.get(d, accounts[d]):
            reasons.append(f"moves from account {base_accounts[d]} to {accounts[d]}")
            created.add(d)
    grants_to = _grants_to(head)
    for moved in sorted(created):
        if moved not in base_mesh.domains:
            continue
        for producer in sorted(grants_to.get(moved, ())):
            stacks[name(producer)].reasons.append(
                f"grants to {moved}, whose role moves to account {accounts[moved]}"
            )
    head_foreign = {a for a in accounts.values() if a != platform.account}
    base_foreign = {a for a in base_accounts.values() if a != platform.account}
    plat = stacks[platform.name].reasons
    for a in sorted(head_foreign - base_foreign):
        users = sorted(d for d, x in accounts.items() if x == a)
        plat.append(f"account {a} joins the mesh ({', '.join(users)}): its Lake Formation settings")
    for a in sorted(base_foreign - head_foreign):
        plat.append(f"account {a} leaves the mesh: its Lake Formation settings are released")
    if bool(head_foreign) != bool(base_foreign):
        change = "becomes" if head_foreign else "is no longer"
        for d in head.domains:
            stacks[name(d)].reasons.append(f"the mesh {change} multi-account")
        if not plat:
            plat.append(f"the mesh {change} multi-account: cross-account sharing settings")
    _tag_reasons(head, base_mesh, stacks, name, accounts, base_accounts, plat)
    head_file, base_file = _platform_file(head), _platform_file(base_mesh)
    changed = sorted(
        k for k in set(head_file) | set(base_file) if head_file.get(k) != base_file.get(k)
    )
    declaring = [k for k in changed if k not in PLATFORM_FILE_NO_RESOURCES]
    if declaring:
        for s in stacks.values():
            s.reasons.append(f"_mesh.yaml {', '.join(declaring)} changed")
    for c in configs:
        before = base_configs.get(c.name)
        if c.name in stacks and (before is None or before.values != c.values):
            stacks[c.name].reasons.append(
                f"stack config {c.path.name} {'is new' if before is None else 'changed'}"
            )
    return created


def _whole_mesh_reasons(head: Mesh, base: Mesh) -> list[str]:
    reasons = []
    for d in sorted(set(head.domains) | set(base.domains)):
        if d not in base.domains:
            reasons.append(f"{d}: new domain")
        elif d not in head.domains:
            reasons.append(f"{d}: blueprint removed")
        elif head.blueprint(d) != base.blueprint(d):
            reasons.append(f"{d}: blueprint changed")
    changed = sorted(
        k
        for k in set(_platform_file(head)) | set(_platform_file(base))
        if _platform_file(head).get(k) != _platform_file(base).get(k)
        and k not in PLATFORM_FILE_NO_RESOURCES
    )
    if changed:
        reasons.append(f"_mesh.yaml {', '.join(changed)} changed")
    return reasons


def _finish(
    stacks: dict[str, Stack],
    edges: set[tuple[str, str]],
    problems: list[str],
    warnings: list[str],
    only: str | None,
) -> Rollout:
    if only is not None:
        if only not in stacks:
            listed = ", ".join(sorted(stacks)[:10])
            raise UsageError(f"--only {only}: not a stack of the project ({listed}, ...)")
        return Rollout([stacks[only]], [[only]], problems, warnings)
    waves, cycles = layer(sorted(stacks), edges)
    for cycle in cycles:
        warnings.append(
            f"stacks {', '.join(cycle)} grant to each other's new roles: they share a wave, and "
            "the grants of the first to finish fail until a second run"
        )
    ordered = [stacks[n] for wave in waves for n in wave]
    return Rollout(ordered, waves, problems, warnings)


def layer(nodes: list[str], edges: set[tuple[str, str]]) -> tuple[list[list[str]], list[list[str]]]:
    """Waves of `nodes` such that for each edge (a, b) a's wave is before b's, nodes of one
    strongly connected component together (a cycle cannot be ordered); and those cycles."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in sorted(edges):
        succ[a].append(b)
    comp = _components(nodes, succ)
    members: dict[int, list[str]] = {}
    for n in nodes:
        members.setdefault(comp[n], []).append(n)
    level: dict[int, int] = {}
    preds: dict[int, set[int]] = {c: set() for c in members}
    for a, b in edges:
        if comp[a] != comp[b]:
            preds[comp[b]].add(comp[a])

    def depth(c: int) -> int:  # the condensation is acyclic; iterative to bound recursion
        stack = [c]
        while stack:
            top = stack[-1]
            todo = [p for p in preds[top] if p not in level]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            level[top] = 1 + max((level[p] for p in preds[top]), default=-1)
        return level[c]

    waves: dict[int, list[str]] = {}
    for c, group in members.items():
        waves.setdefault(depth(c), []).extend(group)
    cycles = sorted(sorted(g) for g in members.values() if len(g) > 1)
    return [sorted(waves[k]) for k in sorted(waves)], cycles


def _components(nodes: list[str], succ: dict[str, list[str]]) -> dict[str, int]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    comp: dict[str, int] = {}
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            for w in succ[v]:
                if w in on:
                    low[v] = min(low[v], low[w])
            if low[v] == index[v]:
                number = len(set(comp.values()))
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp[w] = number
                    if w == v:
                        break
    return comp
