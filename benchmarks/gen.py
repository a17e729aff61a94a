"""Varied filled workbooks for the benchmark, written by the real template writer.

``unit_inputs(i, seed, scheme)`` gives unit ``i``'s (values, tables, kind) deterministically:
about 85% valid, 15% invalid (one defect each, cycling through ``INVALID_KINDS``); 4–30
perf_indicators rows whose points add up to the scheme's group points; narrative texts from a
sentence or two up to ~3,000 characters; some ≤ / 区间 / 定性 rows, some 有 new building, some
values typed the way clerks type them (1,234.50 · 2024年4月30日 · 95%).
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SEED_YAML = ROOT / "samples" / "data" / "seed-unit.yaml"

# Bump when the generated data changes (the workdir cache is keyed on it).
GENERATOR_VERSION = 2

REGIONS = ("江华瑶族自治县", "宁远县", "道县", "蓝山县", "新田县", "双牌县", "东安县", "祁阳市", "冷水滩区",
           "零陵区", "江永县", "回龙圩管理区")
DEPTS = ("政务服务中心", "教育局", "卫生健康局", "财政局", "农业农村局", "自然资源局", "住房和城乡建设局",
         "交通运输局", "水利局", "文化旅游广电体育局", "民政局", "人力资源和社会保障局", "市场监督管理局",
         "统计局", "审计局", "林业局", "应急管理局", "医疗保障局", "司法局", "档案馆")
INDICATOR_NAMES = ("受理办理业务", "发布政府信息", "培训人次", "检查覆盖率", "项目完成数", "群众满意度",
                   "资金拨付及时率", "信息公开完成率", "办件按时办结率", "设备购置数量", "宣传活动场次",
                   "问题整改率", "服务对象投诉处理率", "平台注册用户", "审批时间", "工作经费控制")
QUAL_TARGETS = ("按期完成", "有效提升", "明显改善", "持续优化")
NOTE = "受政策调整影响，部分工作未能按期完成，已制定整改措施，下年度加强跟踪督办。"

# One defect per invalid unit; what the validator must report (spec 05).
INVALID_KINDS = ("budget_identity", "blank_required", "bad_direction", "points_sum", "not_number",
                 "unknown_tier")
INVALID_SLOTS = (2, 9, 15)  # i % 20 in these → invalid: exactly 15%


def _seed() -> dict[str, Any]:
    return yaml.safe_load(SEED_YAML.read_text(encoding="utf-8"))


_SENTENCES: list[str] | None = None


def _sentences() -> list[str]:
    global _SENTENCES
    if _SENTENCES is None:
        s = _seed()
        text = "".join(str(s[k]) for k in ("functions", "duty_analysis", "benefit_economic", "benefit_social",
                                           "benefit_sustainable", "admin_efficiency", "goal_actual"))
        text += "".join(s["problems"]) + "".join(s["plans"])
        _SENTENCES = [p + "。" for p in text.replace("\n", "").split("。") if len(p) > 4]
    return _SENTENCES


def _text(rng: random.Random, lo: int, hi: int) -> str:
    """Paragraphs (separated by line breaks) of roughly lo..hi characters."""
    pool = _sentences()
    target = rng.randint(lo, hi)
    paras: list[str] = []
    cur: list[str] = []
    n = 0
    while n < target:
        s = rng.choice(pool)
        cur.append(s)
        n += len(s)
        if len(cur) >= rng.randint(2, 5):
            paras.append("".join(cur))
            cur = []
    if cur:
        paras.append("".join(cur))
    return "\n".join(paras)


def _long_text(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.4:
        return _text(rng, 40, 300)
    if r < 0.8:
        return _text(rng, 300, 1200)
    return _text(rng, 1200, 3000)


def _m(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


def _money(rng: random.Random) -> dict[str, Any]:
    """收支情况 values that satisfy the budget identity exactly."""
    budget_initial = _m(rng.uniform(30, 3000))
    r = rng.random()
    if r < 0.3:
        added = Decimal(0)
    elif r < 0.4:
        added = -_m(float(budget_initial) * rng.uniform(0, 0.1))
    else:
        added = _m(float(budget_initial) * rng.uniform(0, 0.35))
    fiscal = budget_initial + added
    carry = Decimal(0) if rng.random() < 0.6 else _m(rng.uniform(0, 200))
    other = Decimal(0) if rng.random() < 0.85 else _m(rng.uniform(0, 50))
    total = carry + fiscal + other
    bal_b = Decimal(0) if rng.random() < 0.6 else _m(float(total) * rng.uniform(0, 0.03))
    bal_p = Decimal(0) if rng.random() < 0.6 else _m(float(total) * rng.uniform(0, 0.05))
    spend = total - bal_b - bal_p
    basic = _m(float(spend) * rng.uniform(0.5, 1.0))
    project = spend - basic
    sg_prev = Decimal(0) if rng.random() < 0.1 else _m(rng.uniform(1, 20))
    sg = _m(float(sg_prev) * rng.uniform(0.8, 1.1)) if sg_prev else _m(rng.uniform(0, 5))
    pub = _m(rng.uniform(5, 100))
    proc = Decimal(0) if rng.random() < 0.2 else _m(rng.uniform(1, 200))
    v: dict[str, Any] = {
        "carryover_start": carry, "budget_initial": budget_initial, "budget_added": added,
        "income_fiscal": fiscal, "income_other": other, "spend_basic": basic, "spend_project": project,
        "balance_basic": bal_b, "balance_project": bal_p,
        "sangong_budget_prev": sg_prev, "sangong_budget": sg, "sangong_actual": _m(float(sg) * rng.uniform(0.7, 1)),
        "public_budget": pub, "public_actual": _m(float(pub) * rng.uniform(0.85, 1)),
        "procurement_budget": proc, "procurement_actual": _m(float(proc) * rng.uniform(0.9, 1)),
        "new_building": "无",
    }
    if rng.random() < 0.1:
        area = _m(rng.uniform(500, 8000))
        inv = _m(rng.uniform(100, 5000))
        v.update(new_building="有", building_area_approved=area,
                 building_area_actual=_m(float(area) * rng.uniform(0.95, 1.08)),
                 building_invest_approved=inv, building_invest_actual=_m(float(inv) * rng.uniform(0.9, 1.06)))
    out: dict[str, Any] = {}
    for k, x in v.items():
        if isinstance(x, Decimal):
            # mostly numbers; now and then typed as text with a thousands separator
            out[k] = f"{x:,.2f}" if x >= 1000 and rng.random() < 0.2 else float(x)
        else:
            out[k] = x
    return out


def _split_points(total: Decimal, n: int) -> list[Decimal]:
    cents = int(total * 100)
    base, rem = divmod(cents, n)
    return [Decimal(base + (1 if j < rem else 0)) / 100 for j in range(n)]


def _perf_row(rng: random.Random, group: str, points: Decimal) -> dict[str, Any]:
    from toolkit.fields import LEVEL2_BY_LEVEL1

    row: dict[str, Any] = {"level1": group, "level2": rng.choice(LEVEL2_BY_LEVEL1.get(group, ("",))),
                           "name": rng.choice(INDICATOR_NAMES), "points": float(points)}
    r = rng.random()
    under = rng.random() < 0.1
    if r < 0.75:
        unit = rng.choice(("人次", "条", "个", "件", "%", "万元"))
        if unit == "%":
            t = rng.choice((90, 95, 98, 99))
            a = t - rng.randint(1, 5) if under else rng.randint(t, 100)
            target = f"{t}%" if rng.random() < 0.3 else str(t)
        else:
            t = rng.randint(10, 5000)
            a = int(t * rng.uniform(0.6, 0.95)) if under else int(t * rng.uniform(1.0, 1.4))
            target = str(t)
        row.update(direction="≥" if rng.random() < 0.9 else ">=", target=target, unit=unit, actual=str(a))
    elif r < 0.83:
        t = rng.randint(3, 30)
        a = t + rng.randint(1, 5) if under else rng.randint(1, t)
        row.update(direction="≤", target=str(t), unit=rng.choice(("天", "万元")), actual=str(a))
    elif r < 0.91:
        lo = rng.randint(1, 5)
        hi = lo + rng.randint(2, 10)
        a = hi + rng.randint(1, 3) if under else rng.randint(lo, hi)
        row.update(direction="区间", target=str(lo), target_max=str(hi), unit="天", actual=str(a))
    else:
        tier = "部分达成" if under else "达成"
        row.update(direction="定性", target=rng.choice(QUAL_TARGETS), actual=tier)
        if rng.random() < 0.3:
            share = Decimal("0.7") if under else Decimal("0.9")
            row["self_score"] = float((points * share).quantize(Decimal("0.01")))
            under = True  # below full points: the row needs its note
    if under:
        row["deviation_note"] = NOTE
    return row


def _perf_rows(rng: random.Random, groups: dict[str, Decimal]) -> list[dict[str, Any]]:
    names = list(groups)
    k = rng.randint(max(4, 2 * len(names)), 30)
    counts = [2] * len(names)
    for _ in range(k - sum(counts)):
        counts[rng.randrange(len(names))] += 1
    rows: list[dict[str, Any]] = []
    for g, n in zip(names, counts, strict=True):
        rows.extend(_perf_row(rng, g, p) for p in _split_points(groups[g], n))
    return rows


def _scoring_inputs(rng: random.Random, scheme: Any) -> dict[str, Any]:
    """评分表 inputs for every judgement indicator of the scheme."""
    fields = {f.key: f for f in scheme.input_fields}
    v: dict[str, Any] = {}
    for node in scheme.leaves():
        r = node.rule
        if r is None:
            continue
        need_note = False
        if r.type == "checklist":
            for it in r.params["items"]:
                met = rng.random() < 0.95
                v[it["key"]] = "是" if met else "否"
                need_note |= not met
        elif r.type == "tiers":
            tiers = r.params["tiers"]
            t = tiers[0] if rng.random() < 0.85 else tiers[min(1, len(tiers) - 1)]
            lo, hi = t["low"] * node.points, t["high"] * node.points
            steps = [lo + (hi - lo) * Decimal(j) / 4 for j in range(4 if t["high_open"] else 5)]
            s = rng.choice(steps).quantize(Decimal("0.01"))
            v[f"tier_{node.id}"] = t["name"]
            v[f"score_{node.id}"] = float(s)
            need_note = True  # the seed always explains its tier
        elif r.type == "first_given":
            opt = rng.choice(r.params["options"])
            f = fields.get(opt["input"])
            if f is not None and f.kind == "percent":
                rate = rng.randint(86, 100)
                v[opt["input"]] = f"{rate}%" if rng.random() < 0.5 else rate / 100
            elif f is not None and f.choices:
                v[opt["input"]] = rng.choice(f.choices[:2])
            need_note = True  # a grade below the top or a rate below target loses points
        if node.judgement and (need_note or rng.random() < 0.3) and f"note_{node.id}" in fields:
            v[f"note_{node.id}"] = _text(rng, 30, 150)
    return v


def unit_inputs(i: int, seed: int, scheme: Any) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], str]:
    """Unit ``i``: (values by key, table rows, "ok" or the invalid kind)."""
    rng = random.Random(f"{seed}:{i}")
    s = _seed()
    region = REGIONS[i % len(REGIONS)]
    dept = DEPTS[(i // len(REGIONS)) % len(DEPTS)]
    lap = i // (len(REGIONS) * len(DEPTS))
    unit_name = f"{region}{dept}" + (f"第{lap + 1}分中心" if lap else "")
    year = 2023
    quota = rng.randint(5, 200)
    date_forms = ("2024-04-30", "2024.4.30", "2024年4月30日")
    values: dict[str, Any] = {
        "unit_name": unit_name, "unit_code": f"4{i:05d}", "region": region, "fiscal_year": year,
        "internal_unit_count": rng.randint(1, 12), "internal_units": "办公室、财务股和业务股",
        "functions": _long_text(rng), "staff_quota": quota,
        "staff_actual": quota if rng.random() < 0.7 else rng.randint(max(0, quota - 10), quota + 3),
        "contact_name": "李华", "contact_phone": "0746-0000000", "contact_email": f"unit{i:05d}@example.com",
        "report_date": rng.choice(date_forms) if rng.random() < 0.3 else s["report_date"],
        "notice": s["notice"],
        "goal_expected": _text(rng, 30, 200), "goal_actual": _text(rng, 30, 200),
        "duty_analysis": _long_text(rng),
        "benefit_economic": _text(rng, 40, 400), "benefit_social": _text(rng, 40, 400),
        "benefit_sustainable": _text(rng, 0, 200) if rng.random() < 0.8 else None,
        "admin_efficiency": _text(rng, 60, 500),
    }
    if rng.random() < 0.15:
        values["internal_unit_count"] = None
        values["internal_units"] = None
    values.update(_money(rng))
    values.update(_scoring_inputs(rng, scheme))
    tables: dict[str, list[dict[str, Any]]] = {
        "perf_indicators": _perf_rows(rng, dict(scheme.indicator_groups)),
        "problems": [{"problems": _text(rng, 20, 120)} for _ in range(rng.randint(1, 4))],
        "plans": [{"plans": _text(rng, 30, 200)} for _ in range(rng.randint(1, 4))],
    }
    kind = "ok"
    if i % 20 in INVALID_SLOTS:
        kind = INVALID_KINDS[(i // 20 * len(INVALID_SLOTS) + INVALID_SLOTS.index(i % 20)) % len(INVALID_KINDS)]
        _break(rng, kind, values, tables)
    return values, tables, kind


def _break(rng: random.Random, kind: str, values: dict[str, Any], tables: dict[str, list[dict[str, Any]]]) -> None:
    rows = tables["perf_indicators"]
    if kind == "budget_identity":
        v = values["spend_basic"]
        values["spend_basic"] = (float(v.replace(",", "")) if isinstance(v, str) else v) + 1.23
    elif kind == "blank_required":
        values[rng.choice(("region", "functions", "duty_analysis", "staff_quota", "report_date"))] = None
    elif kind == "bad_direction":
        rng.choice(rows)["direction"] = rng.choice(("W", "Q", "大约"))
    elif kind == "points_sum":
        rows[0]["points"] = rows[0]["points"] + 0.5
    elif kind == "not_number":
        key = rng.choice(("staff_actual", "income_fiscal"))
        values[key] = "约10" if key == "staff_actual" else "十个"
    elif kind == "unknown_tier":
        tier_keys = [k for k in values if k.startswith("tier_")]
        if tier_keys:
            values[tier_keys[0]] = "很好"
        else:
            values["region"] = None


def write_unit(path: Path, i: int, seed: int, scheme_id: str) -> str:
    """Write unit ``i`` to ``path``; returns its kind."""
    from toolkit.forms.template import write_workbook
    from toolkit.rules.loader import load_scheme

    scheme = load_scheme(scheme_id)
    values, tables, kind = unit_inputs(i, seed, scheme)
    write_workbook(scheme, path, values=values, tables=tables)
    return kind


def file_name(i: int) -> str:
    region = REGIONS[i % len(REGIONS)]
    dept = DEPTS[(i // len(REGIONS)) % len(DEPTS)]
    return f"{i:05d}-{region}{dept}.xlsx"


# --------------------------------------------------------------------------- project forms (spec 06)
PROJECTS = ("森林防火能力提升", "学生资助", "高标准农田建设", "农村道路养护", "政务服务一网通办", "城乡环境整治",
            "基层医疗设备购置", "水利工程维修养护", "公共文化服务", "就业技能培训")


def _project_row(rng: random.Random, group: str, points: Decimal) -> dict[str, Any]:
    """A dept row folded into the project form's columns: the direction goes into 年度指标值."""
    row = _perf_row(rng, group, points)
    d = row.pop("direction")
    lo, hi = row.pop("target"), row.pop("target_max", None)
    if d == "区间":
        row["target"] = f"{lo}～{hi}"
    elif d == "定性":
        row["target"] = lo
    else:
        row["target"] = f"{'≥' if d in ('≥', '>=') else d}{lo}"
    return row


def project_inputs(i: int, seed: int, scheme: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Project workbook ``i``: (values, tables, kind); 15% invalid (a broken fund identity, a blank
    实际完成值 or rows not adding up to their group's points)."""
    rng = random.Random(f"project-{seed}-{i}")
    from toolkit.fields import fund_key

    full = _m(rng.uniform(10, 3000))
    parts = [_m(float(full) * s) for s in (0.8, 0.15)]
    parts.append(full - sum(parts))
    rate = Decimal(str(rng.choice((0.62, 0.85, 0.9, 0.95, 0.9418, 0.99, 1, 1.02))))
    spent = [_m(float(p * rate)) for p in parts]
    values: dict[str, Any] = {
        "project_name": f"{PROJECTS[i % len(PROJECTS)]}项目（{i:05d}）", "project_code": f"4311292300{i:04d}",
        "dept_name": REGIONS[i % len(REGIONS)] + DEPTS[(i // 7) % len(DEPTS)],
        "unit_name": REGIONS[i % len(REGIONS)] + DEPTS[(i // 7) % len(DEPTS)], "unit_code": f"{412000 + i % 500}",
        "fiscal_year": 2023, "goal_expected": _text(rng, 40, 300), "goal_actual": _text(rng, 40, 300),
        "contact_name": "张三", "contact_email": f"unit{i}@example.com", "report_date": "2024-04-30",
        "problems_text": _text(rng, 20, 200) if rate < Decimal("0.9") else None,
    }
    for col, amounts in (("initial", parts), ("full", parts), ("spent", spent)):
        values[fund_key("total", col)] = float(sum(amounts))
        for row, amount in zip(("fiscal", "carryover", "other"), amounts, strict=True):
            values[fund_key(row, col)] = float(amount)
    groups = (dict(scheme.indicator_groups) if "" not in scheme.indicator_groups
              else {"产出指标": Decimal(50), "效益指标": Decimal(30), "满意度指标": Decimal(10)})
    counts = {g: 1 for g in groups}
    for _ in range(rng.randint(len(groups), 12) - len(groups)):
        counts[rng.choice(list(groups))] += 1
    rows = [_project_row(rng, g, pts) for g, n in counts.items() for pts in _split_points(groups[g], n)]
    kind = "ok"
    if i % 20 in INVALID_SLOTS:
        kind = ("fund_identity", "blank_actual", "points_sum")[(i // 20) % 3]
        if kind == "fund_identity":
            values[fund_key("total", "full")] = float(sum(parts) + Decimal("0.01"))
        elif kind == "blank_actual":
            rows[0]["actual"] = None
        else:
            rows[0]["points"] = float(Decimal(str(rows[0]["points"])) + 1)
    return values, {"project_indicators": rows}, kind


def write_project(path: Path, i: int, seed: int, scheme_id: str = "mof-project-2020") -> str:
    """Write project workbook ``i`` to ``path``; returns its kind."""
    from toolkit.forms.template import write_workbook
    from toolkit.rules.loader import load_scheme

    scheme = load_scheme(scheme_id)
    values, tables, kind = project_inputs(i, seed, scheme)
    write_workbook(scheme, path, values=values, tables=tables)
    return kind
