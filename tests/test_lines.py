"""Line look-ups from the lines the parse recorded equal those from the composed node tree, for
every field of every file the tests know and of generated YAML in every style: locating an
error never needs the file parsed again (issue 12)."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import FIXTURES, SAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.blueprints import load as loader
from infra.blueprints import yaml_safe


def paths(data, prefix=()):
    """Every location in plain data, and a few that do not exist (a missing key, an index
    past the end), as problems name them."""
    yield prefix
    if isinstance(data, dict):
        yield (*prefix, "no_such_key")
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        yield (*prefix, len(data))
        for i, value in enumerate(data):
            yield from paths(value, (*prefix, i))


def tree_line(root: yaml.Node, loc) -> int:
    """The reference: the line of the deepest key or item of `loc` in the composed node tree
    (the mapping's own line for a missing key), as the loader located problems before."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def check(text: str) -> int:
    src, _, data, problem = yaml_safe._parse_text(text, "x.yaml")
    if problem is not None:
        return 0
    root = yaml_safe._compose(text)
    n = 0
    for loc in paths(data):
        assert src.line_of(loc) == tree_line(root, loc), loc
        n += 1
    return n


def test_every_field_of_every_fixture_and_sample_file():
    files = sorted(SAMPLE.glob("*.yaml")) + sorted(FIXTURES.rglob("*.yaml"))
    checked = sum(check(p.read_text(encoding="utf-8", errors="replace")) for p in files)
    assert checked > 5000


SCALAR = st.one_of(
    st.sampled_from(["a", "b c", "true", "1", "2027-01-31", "", "null", "x: y"]),
    st.integers(-3, 3),
)
KEY = st.sampled_from(["name", "type", "k", "products", "x y", "1"])
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEY, inner, max_size=4)),
    max_leaves=20,
)


def render(value, indent: int, flow: bool) -> str:
    """YAML text for `value`: block style, or flow style below the top, with comments and blank
    lines between entries."""
    import json

    if not isinstance(value, (dict, list)) or not value:
        return (
            json.dumps(value)
            if not isinstance(value, (dict, list))
            else ("{}" if isinstance(value, dict) else "[]")
        )
    if flow:
        return json.dumps(value)
    pad = " " * indent
    out = []
    for i, item in enumerate(value.items() if isinstance(value, dict) else value):
        if i % 2:
            out.append(f"{pad}# a comment\n\n")
        if isinstance(value, dict):
            key, item = item
            lead = f"{pad}{json.dumps(key)}:"
        else:
            lead = f"{pad}-"
        if isinstance(item, (dict, list)) and item:
            out.append(f"{lead}\n{render(item, indent + 2, flow=i % 3 == 2)}\n")
        else:
            out.append(f"{lead} {render(item, 0, True)}\n")
    return "".join(out).rstrip("\n")


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(KEY, VALUE, min_size=1, max_size=5))
def test_generated_yaml_in_block_and_flow_style(value):
    check(render(value, 0, flow=False) + "\n")


def test_aliases_are_located_at_their_anchor():
    text = "base: &b {name: a, type: string}\nitems:\n  - *b\n  - *b\n"
    assert check(text) > 0


def test_the_error_path_parses_each_file_once(tmp_path: Path, monkeypatch):
    """500 files with an error each: no file is composed a second time to locate it."""
    header = "domain: {d}\ndescription: A domain with an error\nowner: {{team: team-{d}, email: t@example.com}}\ncost_center: CC-1\n"
    product = (
        "products:\n  - name: orders\n    description: A product that is shared\n"
        "    classification: internal\n    retention_days: 365\n    schema:\n"
        "      - {{name: id, type: string}}\n    consumers:\n      - domain: nowhere_{i}\n"
        "        justification: because\n"
    )
    for i in range(500):
        d = f"d{i:03d}"
        (tmp_path / f"{d}.yaml").write_text(header.format(d=d) + product.format(i=i))
    composed = []
    real = yaml_safe._compose
    monkeypatch.setattr(yaml_safe, "_compose", lambda text: composed.append(1) or real(text))
    monkeypatch.setenv("MESH_PARALLEL_LOAD", "0")
    result = loader.load_mesh(tmp_path)
    assert [e.code for e in result.errors] == ["E025"] * 500
    assert {e.line for e in result.errors} == {13}
    assert len(composed) == 500  # once per file, to parse it
