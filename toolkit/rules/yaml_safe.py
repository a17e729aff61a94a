"""The hardened YAML reader for scheme files: text or bytes → plain data with line numbers, or YamlRefused.

Size, alias-expansion and depth limits (a "billion laughs" file is refused), UTF-8/GB18030 decoding,
duplicate keys and non-finite numbers refused, and PyYAML's English errors turned into Chinese
messages that name the line and the fix.
"""

from __future__ import annotations

from typing import Any

import yaml

# Limits for user-written scheme files: the built-ins are ~20 KB, ~1,500 nodes, 12 levels deep.
MAX_SCHEME_BYTES = 1_000_000
MAX_NODES = 100_000  # counted with every alias expanded (a "billion laughs" file is refused)
MAX_DEPTH = 64  # nesting levels, also with aliases expanded
FIX_YAML = "请对照内置方案（jixiao schemes 可列出）检查缩进、冒号和引号"


class LineDict(dict):  # type: ignore[type-arg]
    line: int = 0
    key_lines: dict[Any, int] = {}  # noqa: RUF012 - replaced per instance


class YamlRefused(Exception):
    """A scheme file refused while reading its YAML: line (1-based, 0 = unknown) and a Chinese message.

    The caller (toolkit.rules.loader) turns it into a SchemeError naming the file."""

    def __init__(self, line: int, msg: str):
        super().__init__(msg)
        self.line = line
        self.msg = msg


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node) -> None:
    """Refuse a node graph that is too big or too deep once aliases are expanded, or that refers to itself."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        k = id(node)
        line = node.start_mark.line + 1
        if done:
            kids = _children(node)
            size[k] = 1 + sum(size[id(c)] for c in kids)
            depth[k] = 1 + max((depth[id(c)] for c in kids), default=0)
            on_path.discard(k)
            if size[k] > MAX_NODES:
                raise YamlRefused(line, f"内容展开后超过 {MAX_NODES} 项（多为锚点 & 与别名 * 层层引用所致），"
                                     "请直接写出各项内容，不要嵌套引用别名")
            if depth[k] > MAX_DEPTH:
                raise YamlRefused(line, f"嵌套超过 {MAX_DEPTH} 层，请减少缩进层次（内置方案不超过 12 层）")
            continue
        if k in size:
            continue
        if k in on_path:
            raise YamlRefused(line, "别名 * 引用了包含它自身的锚点 &，请删去这个别名")
        on_path.add(k)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlRefused(mark.line + 1, f"嵌套超过 {MAX_DEPTH} 层，请减少缩进或括号层次（内置方案不超过 12 层）")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()
        if node is not None:
            _measure(node)
        return node


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlRefused(line, f"键“{key}”重复（第{seen[key]}行已有），请删去或合并其中一个")
            seen[key] = line
    d = LineDict(loader.construct_mapping(node, deep=True))
    d.line = node.start_mark.line + 1
    d.key_lines = seen
    return d


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    v = loader.construct_yaml_float(node)
    if v != v or v in (float("inf"), float("-inf")):
        raise YamlRefused(node.start_mark.line + 1,
                       f"“{node.value}”不是有限的数字（.nan、.inf 或过大的数），请写出具体数值")
    return v


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    if len(node.value) > 30:  # int() of a long digit string is slow, and no scheme needs one
        raise YamlRefused(node.start_mark.line + 1, f"数字“{node.value[:20]}…”位数过多，请写出合理的数值")
    return int(loader.construct_yaml_int(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)

# PyYAML's problem texts → what a finance officer can act on.
_YAML_PROBLEMS = (
    ("'\\t'", "缩进或内容中有制表符（Tab），请全部改用空格缩进"),
    ("found character", "含有不能出现在这里的字符（如 @、`、%），请给这个值加上引号"),
    ("mapping values are not allowed", "这里不能出现“: ”，值中含冒号时请给整个值加引号"),
    ("could not find expected ':'", "缺少冒号“:”，或上一行的引号没有闭合"),
    ("expected <block end>", "缩进不一致：同一层的项目必须对齐"),
    ("expected <document start>", "缩进不一致或有多余的内容：同一层的项目必须对齐"),
    ("expected a single document", "文件中只能有一个文档，请删去多余的“---”"),
    ("undefined alias", "引用了未定义的别名 *，请先用 & 定义锚点或删去别名"),
    ("unhashable key", "键不能是列表或映射，请改为文字"),
    ("unknown escape", "双引号中有无效的转义（反斜杠 \\），请改用单引号"),
    ("end of stream", "引号或括号没有闭合"),
    ("could not determine a constructor", "含有不支持的标签“!”，请删去"),
    ("expected alphabetic or numeric character", "“&”或“*”后缺少名称，请给含 & 或 * 的值加引号"),
    ("while scanning an anchor", "“&”或“*”后缺少名称，请给含 & 或 * 的值加引号"),
    ("while scanning an alias", "“&”或“*”后缺少名称，请给含 & 或 * 的值加引号"),
    ("did not find expected", "缩进不一致，或列表项“- ”与键没有对齐"),
    ("expected ',' or", "方括号或花括号中的项目之间缺少逗号，或括号没有闭合"),
    ("special characters are not allowed", "含有不可见的控制字符，请删去（可在记事本中另存为 UTF-8 后检查）"),
)


def _yaml_problem(e: yaml.YAMLError, text: str) -> tuple[int, str]:
    """A PyYAML error → (line, Chinese message with a fix); never the library's English."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    opened = getattr(e, "context_mark", None)
    context = str(getattr(e, "context", "") or "")
    if mark is not None and opened is not None and (mark.index >= len(text.rstrip()) or "flow" in context):
        mark = opened  # an unclosed bracket or quote: the line where it opened
    line = mark.line + 1 if mark is not None else 0
    if isinstance(e, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(e.position, 0)) + 1
    raw = f"{getattr(e, 'context', '') or ''} {getattr(e, 'problem', '') or ''} {e}"
    for needle, msg in _YAML_PROBLEMS:
        if needle in raw:
            return line, msg
    return line, f"YAML 格式无法识别，{FIX_YAML}"


def read_yaml(text: str) -> Any:
    """Scheme text → data (mappings are LineDicts); YamlRefused with a Chinese message otherwise."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except YamlRefused:
        raise
    except yaml.YAMLError as e:
        line, msg = _yaml_problem(e, text)
        raise YamlRefused(line, f"YAML 格式错误：{msg}（{FIX_YAML}）") from None
    except ValueError:  # int() of a number with thousands of digits
        raise YamlRefused(0, "含有位数过多的数字，请写出合理的数值") from None
    except RecursionError:  # not reached with MAX_DEPTH; kept so no traceback can escape
        raise YamlRefused(0, f"嵌套层次过深，请减少缩进层次（不超过 {MAX_DEPTH} 层）") from None


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM); else GB18030, which is what WPS and Notepad save as "ANSI" on Chinese Windows."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise YamlRefused(0, "文件编码无法识别（不是 UTF-8 也不是 GBK），请在记事本中“另存为”并选择 UTF-8 编码")


def as_list(v: Any) -> list[Any]:
    """A YAML list, or [] for a blank; a scalar or mapping where a list belongs raises NotAList."""
    if v is None or v == "":
        return []
    if isinstance(v, list):
        return v
    raise NotAList(v)


class NotAList(Exception):
    """A scalar or mapping where the scheme needs a list (``value`` is what was written)."""

    def __init__(self, value: Any):
        super().__init__()
        self.value = value


def at_line(line: int, msg: str) -> str:
    return f"第{line}行：{msg}" if line else msg


def line_of(d: Any, key: str | None = None) -> str:
    """“第N行” of a mapping (or of one of its keys) read from the file; "?" for anything else."""
    if not isinstance(d, LineDict):
        return "?"
    n = d.key_lines.get(key, d.line) if key else d.line
    return f"第{n}行" if n else "?"
