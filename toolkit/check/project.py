"""The project form's own check (spec 06) beyond the scheme's ``checks:``: a low 执行率 must be explained.

The fund identities and 执行数 > 全年预算数 are scheme checks (data, rules/builtin/mof-project-2020.yaml);
what needs the indicator table is here: 执行率 below 90% with no 偏差原因分析 in any row and no 存在的问题
is a warning on the 全年执行数 cell (Sichuan practice: a low execution rate is explained).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from toolkit.check.consistency import Checker
from toolkit.fields import fund_key
from toolkit.model import TableRow
from toolkit.text.numbers import fixed

LOW_EXECUTION = Decimal("0.9")


def low_execution(v: Checker, rows: Sequence[TableRow]) -> None:
    """执行率 < 90% and nothing explains it → low_execution_unexplained (a warning)."""
    full, spent = v.values.get(fund_key("total", "full")), v.values.get(fund_key("total", "spent"))
    if not isinstance(full, Decimal) or not isinstance(spent, Decimal) or full <= 0:
        return
    rate = spent / full
    if rate >= LOW_EXECUTION:
        return
    if any(str(r.values.get("deviation_note") or "").strip() for r in rows) or v.values.get("problems_text"):
        return
    cells = [v.cells[k] for k in (fund_key("total", "full"), fund_key("total", "spent")) if k in v.cells]
    v.add("low_execution_unexplained", cells=cells, field=fund_key("total", "spent"),
          rate=f"{fixed(rate * 100)}%")
