"""``extends:`` — a scheme that inherits a built-in or another file and holds only what differs.

The child's top-level keys replace the parent's, except: ``report:`` and ``field_overrides:`` are
merged key by key (nested); ``inputs:`` and ``fields:`` (by key), ``tables:`` (by name), ``checks:``,
``adjustments:`` (by id) and ``grades:`` (by name) add or replace entries (an empty list clears them,
e.g. ``checks: []``);
``indicators:`` entries override the parent's indicator with the same id (anywhere in the tree: only
the keys given change, ``wording`` merged by key, ``children`` entries merged the same way) and
entries with a new id are added; ``indicators_remove: [id, …]`` drops inherited indicators.
The loader then checks the merged scheme as a whole (points must still add up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from toolkit.rules.yaml_safe import (
    MAX_SCHEME_BYTES,
    LineDict,
    NotAList,
    YamlRefused,
    as_list,
    at_line,
    decode,
    line_of,
    read_yaml,
)

MAX_CHAIN = 10

# (name, base folder) → the parent file's path, or KeyError (the loader passes its resolver).
Resolver = Callable[[str, Path], Path]


class ExtendsError(Exception):
    """Problems merging a scheme with its parent (Chinese, each naming the file and line)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def copy(d: Any) -> Any:
    """A deep copy that keeps the line numbers of mappings read from a file."""
    if isinstance(d, Mapping):
        out = LineDict({k: copy(v) for k, v in d.items()})
        if isinstance(d, LineDict):
            out.line, out.key_lines = d.line, dict(d.key_lines)
        return out
    if isinstance(d, list):
        return [copy(x) for x in d]
    return d


def resolve_extends(raw: Mapping[str, Any], base: Path, find: Resolver, chain: tuple[str, ...] = ()) -> Any:
    """``raw`` with its ``extends:`` chain merged in (``raw`` itself when it extends nothing)."""
    if "extends" not in raw:
        return raw
    name = raw["extends"]
    where = f"extends（{line_of(raw, 'extends')}）"
    if not isinstance(name, str) or not name.strip():
        raise ExtendsError([f"{where}：应写内置方案的名称（如 jianghua-2023）或方案文件的路径"])
    try:
        path = find(name.strip(), base)
    except KeyError:
        raise ExtendsError([f"{where}：找不到要继承的方案“{name}”（内置方案名称，或相对于本文件的 .yaml 路径）"]) from None
    key = str(path.resolve())
    if key in chain or len(chain) >= MAX_CHAIN:
        names = " → ".join(Path(c).name for c in (*chain, key))
        raise ExtendsError([f"{where}：方案互相继承形成循环（{names}），请删去其中一个 extends"])
    with open(path, "rb") as f:
        data = f.read(MAX_SCHEME_BYTES + 1)
    if len(data) > MAX_SCHEME_BYTES:
        raise ExtendsError([f"{where}：被继承的方案 {path.name} 超过 {MAX_SCHEME_BYTES // 1_000_000} MB，不像方案文件"])
    try:
        parent = read_yaml(decode(data))
    except YamlRefused as e:
        raise ExtendsError([f"被继承的方案 {path.name}：{at_line(e.line, e.msg)}"]) from None
    if not isinstance(parent, Mapping):
        raise ExtendsError([f"{where}：被继承的方案 {path.name} 不是方案文件"])
    parent = resolve_extends(parent, path.parent, find, (*chain, key))
    return merge(parent, raw)


def merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> LineDict:
    out: LineDict = copy(parent)
    problems: list[str] = []
    for k, v in child.items():
        if k in ("extends", "indicators_remove"):
            continue
        if k == "indicators":
            tree = as_list(out.get("indicators"))
            _override(tree, as_list(v), tree, problems)
            out["indicators"] = tree
        elif k in ("report", "field_overrides") and isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep(out[k], v)
        elif k in _KEYED and v and isinstance(v, list) and isinstance(out.get(k), list):  # [] clears
            out[k] = _by_key(out[k], v, _KEYED[k])
        else:
            out[k] = copy(v)
    if isinstance(child, LineDict):
        out.line, out.key_lines = child.line, {**out.key_lines, **child.key_lines}
    out.pop("extends", None)
    try:
        removed = as_list(child.get("indicators_remove"))
    except NotAList:
        removed = []
        problems.append(f"indicators_remove（{line_of(child, 'indicators_remove')}）：应写要删去的指标 id 列表，"
                        "如 [building_control, asset_use]")
    for rid in removed:
        if not _remove(out.get("indicators"), str(rid)):
            problems.append(f"indicators_remove（{line_of(child, 'indicators_remove')}）：被继承的方案中没有 id 为"
                            f"“{rid}”的指标")
    if problems:
        raise ExtendsError(problems)
    return out


# Lists of named entries merge by their key: an entry with a new key is added, one with a known key
# replaces the inherited one (so a county adds an input or a check without copying the others).
_KEYED = {"inputs": "key", "checks": "id", "adjustments": "id", "grades": "name", "fields": "key", "tables": "name"}


def _by_key(parent: list[Any], child: list[Any], key: str) -> list[Any]:
    out = [copy(e) for e in parent]
    index = {e.get(key): i for i, e in enumerate(out) if isinstance(e, Mapping)}
    for e in child:
        k = e.get(key) if isinstance(e, Mapping) else None
        if k is not None and k in index:
            out[index[k]] = copy(e)
        else:
            out.append(copy(e))
    return out


def _deep(a: Mapping[str, Any], b: Mapping[str, Any]) -> LineDict:
    out: LineDict = copy(a)
    for k, v in b.items():
        out[k] = _deep(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else copy(v)
    if isinstance(b, LineDict):
        out.key_lines = {**out.key_lines, **b.key_lines}
    return out


def _find(tree: list[Any], nid: str) -> Any:
    for n in tree:
        if isinstance(n, Mapping):
            if str(n.get("id")) == nid:
                return n
            kids = n.get("children")
            found = _find(kids if isinstance(kids, list) else [], nid)
            if found is not None:
                return found
    return None


def _override(target: list[Any], entries: list[Any], whole: list[Any], problems: list[str]) -> None:
    """Merge each entry into the indicator of the same id in ``whole``, else add it to ``target``."""
    for e in entries:
        node = _find(whole, str(e.get("id"))) if isinstance(e, Mapping) and "id" in e else None
        if node is None:
            target.append(copy(e))
            continue
        for k, v in e.items():
            if k == "wording" and isinstance(v, Mapping) and isinstance(node.get(k), Mapping):
                node[k] = _deep(node[k], v)
            elif k == "children" and isinstance(v, list):
                had = node.get("children")
                kids: list[Any] = had if isinstance(had, list) else []
                _override(kids, v, whole, problems)
                node["children"] = kids
            else:
                node[k] = copy(v)
            if isinstance(e, LineDict) and isinstance(node, LineDict):
                node.key_lines[k] = e.key_lines.get(k, e.line)


def _remove(tree: Any, nid: str) -> bool:
    if not isinstance(tree, list):
        return False
    for i, n in enumerate(tree):
        if isinstance(n, Mapping):
            if str(n.get("id")) == nid:
                del tree[i]
                return True
            if _remove(n.get("children"), nid):
                return True
    return False
