"""Put a product into a domain blueprint, keeping the file's comments and layout (ruamel.yaml).

The blueprint is parsed with ruamel's round-trip loader only after the project's own loader
accepted it (size, encoding, tags, aliases: `infra.blueprints.load`). The product is merged into the YAML
node by node, guided by the pydantic models: a node whose value does not change is left alone
(its comments, quotes and flow style with it); a changed scalar is replaced in place; new keys go
where the model's field order puts them; new list entries copy the flow style of their siblings;
a column or consumer that moved is moved, not rewritten. ruamel re-emits the whole document, so
the indentation is detected by trying the usual layouts until one reproduces the file exactly;
when none does, the caller is told (`Edited.reformatted`) and says so.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import os
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from infra.model.spec import APPROVER_NAMES, Blueprint, Column, Consumer, Product

# (mapping, sequence, offset) layouts tried in turn; the sample blueprints use the first
_LAYOUTS = [(2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0), (4, 2, 0), (2, 4, 0), (3, 3, 0)]
_FLOW = (Column,)  # written as {name: ..., type: ...} when nothing else decides
_KEYS = {Column: "name", Consumer: "domain"}  # list entries matched by this field


@dataclass
class Edited:
    text: str
    action: str  # "created" | "updated" | "unchanged"
    reformatted: bool  # the file's layout could not be reproduced exactly


def _yaml(layout: tuple[int, int, int]) -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never fold long lines that were not folded
    mapping, sequence, offset = layout
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    return y


def _dump(y: YAML, data: Any) -> str:
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


def _load(text: str) -> tuple[YAML, Any, bool]:
    """ruamel's tree of `text` and a YAML that writes it back as it was (False when no layout
    reproduces the file)."""
    for layout in _LAYOUTS:
        y = _yaml(layout)
        data = y.load(text)
        if _dump(y, data) == text:
            return y, data, False
    y = _yaml(_LAYOUTS[0])
    return y, y.load(text), True


def put_product(text: str, product: Product) -> Edited:
    """`text` (a valid blueprint) with `product` created or updated (matched by name). A file
    whose lines end in CRLF keeps them (ruamel writes LF: the edit is made on LF text)."""
    if not _crlf(text):
        return _put_product(text, product)
    edited = _put_product(text.replace("\r\n", "\n"), product)
    if edited.action == "unchanged":
        return Edited(text, "unchanged", False)
    return Edited(edited.text.replace("\n", "\r\n"), edited.action, edited.reformatted)


def _crlf(text: str) -> bool:
    """Whether most of the lines of `text` end in CRLF (Windows line ends)."""
    crlf = text.count("\r\n")
    return crlf > 0 and crlf >= text.count("\n") - crlf


def _put_product(text: str, product: Product) -> Edited:
    y, data, reformatted = _load(text)
    products = data.get("products")
    index = None
    if isinstance(products, list):
        index = next(
            (
                i
                for i, p in enumerate(products)
                if isinstance(p, dict) and p.get("name") == product.name
            ),
            None,
        )
    if index is not None:
        if Product.model_validate(_plain(products[index]), context=APPROVER_NAMES) == product:
            return Edited(text, "unchanged", False)
        _merge_model(products[index], product)
        action = "updated"
    else:
        node = _to_yaml(product, sibling=None)
        if not isinstance(products, CommentedSeq) or not products:
            seq = CommentedSeq([node])
            seq.fa.set_block_style()
            if "products" in data:
                data["products"] = seq
            else:
                _insert(data, "products", seq, Blueprint)
        else:
            products.append(node)
        action = "created"
    return Edited(_dump(y, data), action, reformatted)


# ------------------------------------------------------------------ plain values


def _plain(node: Any) -> Any:
    """A ruamel node as plain Python data (what the loader would hand pydantic)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dt.datetime):
        return node
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    return node


def _value(value: Any) -> Any:
    """A model field's value as YAML data: enums as their values, dates as dates."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return _to_yaml(value, sibling=None)
    if isinstance(value, dict):
        return CommentedMap((k, _value(v)) for k, v in value.items())
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)  # a multi-line query or implementation: a | block
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq(_value(v) for v in value)
        if all(not isinstance(v, (dict, list, BaseModel)) for v in value):
            seq.fa.set_flow_style()
        return seq
    return value


def _to_yaml(model: BaseModel, sibling: Any) -> CommentedMap:
    """A new mapping for `model` (its non-default fields, in field order); flow style like
    `sibling` when there is one, else flow for columns."""
    node = CommentedMap()
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if _is_default(info, value):
            continue
        node[info.alias or name] = _value(value)
    flow = (
        sibling.fa.flow_style() if isinstance(sibling, CommentedMap) else isinstance(model, _FLOW)
    )
    if flow:
        node.fa.set_flow_style()
    else:
        node.fa.set_block_style()
    return node


def _is_default(info, value: Any) -> bool:
    default = info.get_default(call_default_factory=True)
    return value == default


# ------------------------------------------------------------------ merging


def _insert(node: CommentedMap, key: str, value: Any, model: type[BaseModel]) -> None:
    """Insert `key` after the last key present that comes before it in the model's order."""
    order = [info.alias or name for name, info in model.model_fields.items()]
    before = order[: order.index(key)] if key in order else order
    pos = 0
    for i, existing in enumerate(node):
        if existing in before:
            pos = i + 1
    node.insert(pos, key, value)


def _merge_model(node: CommentedMap, model: BaseModel) -> None:
    """Make mapping `node` hold `model`, touching only what changes."""
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        value = getattr(model, name)
        default = _is_default(info, value)
        if key in node:
            if default and _plain(node[key]) != _plain(_value(value)):
                del node[key]  # back to its default (unset, false, empty): the key goes
            elif not default:
                node[key] = _merge(node[key], value)
        elif not default:
            _insert(node, key, _value(value), type(model))


def _merge(old: Any, value: Any) -> Any:
    if isinstance(value, BaseModel):
        if isinstance(old, CommentedMap):
            try:
                if type(value).model_validate(_plain(old), context=APPROVER_NAMES) == value:
                    return old
            except Exception:  # noqa: BLE001 - the old node is invalid for the model: rewrite
                return _to_yaml(value, sibling=old)
            _merge_model(old, value)
            return old
        return _to_yaml(value, sibling=None)
    if isinstance(value, (list, tuple)):
        if isinstance(old, CommentedSeq):
            return _merge_list(old, list(value))
        return _value(value)
    if isinstance(value, dict):
        if isinstance(old, CommentedMap) and _plain(old) == value:
            return old
        new = _value(value)
        if isinstance(old, CommentedMap) and old.fa.flow_style():
            new.fa.set_flow_style()
        return new
    plain = _value(value)
    if _plain(old) == plain and type(_plain(old)) is type(plain):
        return old  # same value: keep its quotes
    return plain


def _key_of(item: Any) -> Any:
    if isinstance(item, BaseModel):
        field = _KEYS.get(type(item))
        return (type(item).__name__, getattr(item, field)) if field else None
    if isinstance(item, dict):
        for model, field in _KEYS.items():
            if field in item:
                return (model.__name__, item[field])
    return None


def _merge_list(old: CommentedSeq, new: list) -> CommentedSeq:
    if all(not isinstance(v, BaseModel) for v in new):
        if [_plain(v) for v in old] == [_value(v) for v in new]:
            return old
        seq = _value(new)
        if old.fa.flow_style():
            seq.fa.set_flow_style()
        else:
            seq.fa.set_block_style()
        return seq
    old_keys = [_key_of(_plain(v)) for v in old]
    new_keys = [_key_of(v) for v in new]
    if None in old_keys or None in new_keys:  # positional
        old_keys, new_keys = list(range(len(old))), list(range(len(new)))
    sibling = old[0] if len(old) else None
    ops = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(ops):  # from the end: earlier indices stay valid
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                old[i] = _merge(old[i], new[j])
            continue
        for i in reversed(range(i1, i2)):
            del old[i]
        for offset, j in enumerate(range(j1, j2)):
            old.insert(i1 + offset, _to_yaml(new[j], sibling=sibling))
    return old


# ------------------------------------------------------------------ writing


def write_atomically(path: Path, text: str, expected: str) -> None:
    """Replace `path` by `text` in one step (a temporary file in the same directory, fsynced,
    renamed over it), unless the file no longer holds `expected` (changed meanwhile)."""
    target = path.resolve()
    with open(target, encoding="utf-8", newline="") as fh:  # line ends as they are (CRLF too)
        current = fh.read().removeprefix("\ufeff")
    if current != expected:
        raise OSError(f"{path} changed while the contract was imported; run the import again")
    mode = target.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
