"""The standard workbook definition: the single source of truth for the template writer and the reader.

Labels are what the clerk sees; keys are stable ASCII identifiers used in code, in results.json and
as the workbook's defined names. The 评分表 sheet's fields come from the scheme (``toolkit.rules.inputs``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from toolkit.problems import Problem
from toolkit.text import address as A1

TEMPLATE_ID = "jixiao-dept-selfeval"
TEMPLATE_VERSION = 1
# Older template versions we can still read, with the migration applied by intake (none yet).
KNOWN_OLD_VERSIONS: tuple[int, ...] = ()
TEMPLATE_FILE_NAME = "部门整体支出绩效自评填报表.xlsx"

Kind = Literal[
    "text",  # one line of text
    "longtext",  # paragraphs separated by line breaks
    "int",  # whole number ≥ min
    "year",  # 2000–2100
    "money",  # 万元, ≥ 0, at most 2 decimals
    "money_signed",  # 万元, may be negative
    "area",  # 平方米, ≥ 0
    "date",
    "email",
    "choice",  # one of ``choices``
    "percent",  # stored as a fraction (95% is 0.95)
    "score",  # self-assessed points
]

SHEET_HELP = "填表说明"
SHEET_BASIC = "基本信息"
SHEET_MONEY = "收支情况"
SHEET_SCORING = "评分表"
SHEET_INDICATORS = "绩效指标"
SHEET_ANALYSIS = "绩效分析"
SHEET_LIVE = "自评得分"  # the live score (toolkit.forms.live_sheet): formulas only, never read as input
SHEET_META = "_meta"
SHEET_PROJECT = "项目自评表"  # the project form's one printable sheet (spec 06)

# Sheet order in the workbook (the 问题清单 sheet of a returned workbook goes first).
SHEETS = (SHEET_HELP, SHEET_BASIC, SHEET_MONEY, SHEET_SCORING, SHEET_INDICATORS, SHEET_ANALYSIS, SHEET_LIVE,
          SHEET_META)
PROJECT_SHEETS = (SHEET_HELP, SHEET_PROJECT, SHEET_LIVE, SHEET_META)
_SHEET_ORDER = (*SHEETS[:-1], SHEET_PROJECT, SHEET_META)  # problem order over both forms


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    sheet: str
    kind: Kind = "text"
    # Blank is an error, and the label shows * (template legend: 标 * 的为必填项). The template, the
    # hints and the validator all read this flag (through all_fields, which adds the inputs a
    # scheme's rules always read); nothing else makes a blank an error except required_when and a
    # scheme's either-or inputs (first_given), whose hints say so.
    required: bool = False
    unit: str = ""  # shown next to the label, e.g. 万元, 人
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    note: str = ""  # input prompt / hint shown to the clerk
    # Required only when another field has a given value: (key, value).
    required_when: tuple[str, str] | None = None
    # Blank is read as 0 (money where blank means "none"); the hint says "没有的填 0 或留空".
    blank_is_zero: bool = False
    # A scheme-derived field's indicator id (评分表), for grouping in the template.
    indicator: str | None = None


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    width: float = 12
    note: str = ""
    # The indicator_table option that adds this column (coefficient, adjusted_target); "" = always there.
    option: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    sheet: str
    title: str
    columns: tuple[Column, ...]
    rows: int  # empty rows the template provides
    min_rows: int = 0  # at least this many non-blank rows for a valid submission

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def _money(key: str, label: str, **kw: object) -> Field:
    kw.setdefault("kind", "money")
    kw.setdefault("unit", "万元")
    kw.setdefault("min", 0)
    return Field(key, label, SHEET_MONEY, **kw)  # type: ignore[arg-type]


BASIC_FIELDS: tuple[Field, ...] = (
    Field("unit_name", "单位名称", SHEET_BASIC, required=True, note="填写单位全称，如：江华瑶族自治县政务服务中心"),
    Field("unit_code", "单位编码（预算编码）", SHEET_BASIC, note="预算单位编码，如：412001"),
    Field("region", "所属地区", SHEET_BASIC, required=True, note="如：江华瑶族自治县"),
    Field("fiscal_year", "评价年度", SHEET_BASIC, kind="year", required=True, min=2000, max=2100,
          note="四位年份，如：2023"),
    Field("internal_unit_count", "内设机构数", SHEET_BASIC, kind="int", unit="个", min=0,
          note="整数；无内设机构可与下一项同时留空"),
    Field("internal_units", "内设机构名称", SHEET_BASIC, note="如：办公室和业务指导股"),
    Field("functions", "主要职能及重点工作计划", SHEET_BASIC, kind="longtext", required=True,
          note="可分段，段与段之间用 Alt+Enter 换行"),
    Field("staff_quota", "核定人员编制数", SHEET_BASIC, kind="int", unit="人", required=True, min=0),
    Field("staff_actual", "实有在职在编人数", SHEET_BASIC, kind="int", unit="人", required=True, min=0),
    Field("contact_name", "联系人", SHEET_BASIC),
    Field("contact_phone", "联系电话", SHEET_BASIC),
    Field("contact_email", "联系邮箱", SHEET_BASIC, kind="email", note="评价结果将发送到此邮箱"),
    Field("report_date", "报告日期", SHEET_BASIC, kind="date", required=True,
          note="如：2024-04-30、2024.4.30 或 2024年4月30日"),
    Field("notice", "本级自评工作通知（文件名及文号）", SHEET_BASIC,
          note="如：《××县财政局关于开展2023年度财政支出绩效自评工作的通知》（×财绩〔2024〕1号）"),
)

# Every money cell is either required (marked *) or read as 0 when blank (the hint says so):
# a blank never means "unknown" for money. Which one is this table's choice, nowhere else.
MONEY_FIELDS: tuple[Field, ...] = (
    _money("carryover_start", "年初结转结余", blank_is_zero=True),
    _money("budget_initial", "年初预算数", required=True),
    _money("budget_added", "本年追加（调减）预算数", kind="money_signed", min=None, blank_is_zero=True,
           note="调减填负数"),
    _money("income_fiscal", "本年收到财政资金", required=True),
    _money("income_other", "本年其他收入", blank_is_zero=True),
    _money("spend_basic", "本年基本支出", required=True),
    _money("spend_project", "本年项目支出", required=True),
    _money("balance_basic", "年末基本支出结余", blank_is_zero=True),
    _money("balance_project", "年末项目支出结余", blank_is_zero=True),
    _money("sangong_budget_prev", "上年“三公”经费预算数", blank_is_zero=True),
    _money("sangong_budget", "本年“三公”经费预算数", blank_is_zero=True),
    _money("sangong_actual", "本年“三公”经费实际支出数", blank_is_zero=True),
    _money("public_budget", "公用经费预算数", blank_is_zero=True),
    _money("public_actual", "公用经费实际支出数", blank_is_zero=True),
    _money("procurement_budget", "政府采购预算数", blank_is_zero=True),
    _money("procurement_actual", "政府采购实际金额", blank_is_zero=True),
    Field("new_building", "本年有无新建楼堂馆所", SHEET_MONEY, kind="choice", required=True,
          choices=("有", "无")),
    Field("building_area_approved", "批复建筑面积", SHEET_MONEY, kind="area", unit="平方米", min=0,
          required_when=("new_building", "有")),
    Field("building_area_actual", "实际建筑面积", SHEET_MONEY, kind="area", unit="平方米", min=0,
          required_when=("new_building", "有")),
    _money("building_invest_approved", "批复投资概算", required_when=("new_building", "有")),
    _money("building_invest_actual", "实际投资", required_when=("new_building", "有")),
)

ANALYSIS_FIELDS: tuple[Field, ...] = (
    Field("goal_expected", "年度总体目标（预期）", SHEET_ANALYSIS, kind="longtext"),
    Field("goal_actual", "年度总体目标（实际完成情况）", SHEET_ANALYSIS, kind="longtext"),
    Field("duty_analysis", "部门职责履行情况分析", SHEET_ANALYSIS, kind="longtext", required=True,
          note="可分段，段与段之间用 Alt+Enter 换行"),
    Field("benefit_economic", "经济效益", SHEET_ANALYSIS, kind="longtext"),
    Field("benefit_social", "社会效益", SHEET_ANALYSIS, kind="longtext"),
    Field("benefit_sustainable", "可持续影响", SHEET_ANALYSIS, kind="longtext"),
    Field("admin_efficiency", "行政效能分析", SHEET_ANALYSIS, kind="longtext", note="每行一条"),
)

DIRECTIONS = ("≥", "≤", "=", "区间", "定性")
# indicator_table without ``group``: every row of the table counts, whatever its 一级指标 (四川 绩效指标 90)
ALL_GROUPS = ""
QUAL_TIERS = ("达成", "部分达成", "未达成")
LEVEL2_BY_LEVEL1: dict[str, tuple[str, ...]] = {
    "产出指标": ("数量指标", "质量指标", "时效指标", "成本指标"),
    "效益指标": ("经济效益", "社会效益", "生态效益", "可持续影响"),
    "满意度指标": ("服务对象满意度",),
}

# Every perf_indicators column in sheet order; a column with an ``option`` is there only in the
# template of a scheme whose indicator_table turns that option on (perf_indicators_table).
PERF_COLUMNS: tuple[Column, ...] = (
    Column("level1", "一级指标", kind="choice", required=True, width=11),
    Column("level2", "二级指标", kind="choice", width=11),
    Column("name", "三级指标", required=True, width=22),
    Column("direction", "指标性质", kind="choice", required=True, choices=DIRECTIONS, width=9,
           note="≥ / ≤ / = / 区间 / 定性"),
    Column("target", "年度指标值", width=11, note="数字；区间填下限；定性填简短描述"),
    Column("target_max", "指标值上限", width=10, note="仅“区间”填写"),
    Column("target_adjusted", "调整后指标值", width=11, option="adjusted_target",
           note="年中按程序调整了指标值的填写，按调整后的值计分；未调整的留空"),
    Column("unit", "计量单位", width=9),
    Column("actual", "实际完成值", width=11, note="数字；定性填 达成 / 部分达成 / 未达成"),
    Column("points", "分值", kind="score", required=True, width=7),
    Column("self_score", "自评得分", kind="score", width=8, note="仅定性指标可填"),
    Column("coefficient", "得分系数", kind="percent", width=9, option="coefficient",
           note="0～100%，如 0.9、90 或 90%；填写后本行得分 = 分值 × 得分系数，须填写偏差原因"),
    Column("deviation_note", "偏差原因分析及改进措施", kind="longtext", width=30,
           note="得分低于分值时必填"),
)
TABLE_OPTIONS = ("coefficient", "adjusted_target")


def level1_choices(groups: Iterable[str]) -> tuple[str, ...]:
    """The 一级指标 a clerk may choose: the scheme's groups, or every MOF 一级 when one table takes all rows."""
    names = tuple(groups)
    return tuple(LEVEL2_BY_LEVEL1) if ALL_GROUPS in names or not names else names  # the options that add a column

PERF_INDICATORS = Table(
    name="perf_indicators",
    sheet=SHEET_INDICATORS,
    title="绩效指标",
    rows=30,
    columns=tuple(c for c in PERF_COLUMNS if not c.option),
)


def perf_indicators_table(options: frozenset[str] | set[str] = frozenset()) -> Table:
    """The perf_indicators table with the columns the given indicator_table options add."""
    if not options & set(TABLE_OPTIONS):
        return PERF_INDICATORS
    return replace(PERF_INDICATORS, columns=tuple(c for c in PERF_COLUMNS if not c.option or c.option in options))


def optional_columns(table: Table) -> tuple[Column, ...]:
    """The option columns of ``table`` (the base reader does not read them; check.indicators does)."""
    return tuple(c for c in table.columns if c.option)


PROBLEMS = Table(
    name="problems", sheet=SHEET_ANALYSIS, title="存在的问题", rows=10, min_rows=1,
    columns=(Column("problems", "存在的问题", kind="longtext", required=True, width=90),),
)
PLANS = Table(
    name="plans", sheet=SHEET_ANALYSIS, title="后续工作计划", rows=10, min_rows=1,
    columns=(Column("plans", "后续工作计划", kind="longtext", required=True, width=90),),
)

TABLES: tuple[Table, ...] = (PERF_INDICATORS, PROBLEMS, PLANS)

STATIC_FIELDS: tuple[Field, ...] = BASIC_FIELDS + MONEY_FIELDS + ANALYSIS_FIELDS

# The most data rows a list table may have: the template's validation reaches this far and the
# reader reads no further (a table formatted over whole columns must not cost memory).
MAX_TABLE_ROWS = 2000

META_KEYS = ("template_id", "template_version", "scheme_id", "unit_code")


def table_by_name(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)


def problem_sort_key(p: Problem) -> tuple[int, int, int, int]:
    """Workbook order: problems without a sheet first, then sheet order (SHEETS), row, column.

    Use with a stable sort: problems on the same cell keep the order they were found in."""
    if not p.sheet:
        return (0, 0, 0, 0)
    sheet = _SHEET_ORDER.index(p.sheet) + 1 if p.sheet in _SHEET_ORDER else len(_SHEET_ORDER) + 1
    return (1, sheet, *A1.cell_order(p.cell))


# =========================================================================== the project form (spec 06)
PROJECT_TEMPLATE_ID = "jixiao-project-selfeval"
PROJECT_TEMPLATE_FILE_NAME = "项目支出绩效自评表.xlsx"

# The 项目资金 grid: rows × columns, keys fund_<row>_<col> (fund_total_full …).
FUND_ROWS: tuple[tuple[str, str], ...] = (
    ("total", "年度资金总额"), ("fiscal", "其中：本年财政拨款"), ("carryover", "上年结转资金"), ("other", "其他资金"))
FUND_COLS: tuple[tuple[str, str], ...] = (
    ("initial", "年初预算数"), ("full", "全年预算数（A）"), ("spent", "全年执行数（B）"))
FUND_PARTS = ("fiscal", "carryover", "other")  # total = the sum of these, in every column


def fund_key(row: str, col: str) -> str:
    return f"fund_{row}_{col}"


def _fund(row: str, row_label: str, col: str, col_label: str) -> Field:
    # 年度资金总额 全年预算数 / 全年执行数 are what 执行率 reads: required; the rest blank = 0
    required = row == "total" and col in ("full", "spent")
    return Field(fund_key(row, col), f"{row_label} {col_label}", SHEET_PROJECT, kind="money", unit="万元", min=0,
                 required=required, blank_is_zero=not required)


PROJECT_FIELDS: tuple[Field, ...] = (
    Field("project_name", "项目名称", SHEET_PROJECT, required=True, note="与预算批复的项目名称一致"),
    Field("project_code", "项目编码", SHEET_PROJECT, note="预算项目编码，如：43112902300001"),
    Field("dept_name", "主管部门", SHEET_PROJECT, required=True),
    Field("unit_name", "实施单位", SHEET_PROJECT, required=True, note="填写单位全称"),
    Field("unit_code", "单位编码", SHEET_PROJECT, note="预算单位编码，如：412001"),
    Field("fiscal_year", "年度", SHEET_PROJECT, kind="year", required=True, min=2000, max=2100,
          note="四位年份，如：2023"),
    *(_fund(r, rl, c, cl) for r, rl in FUND_ROWS for c, cl in FUND_COLS),
    Field("goal_expected", "年度总体目标（预期目标）", SHEET_PROJECT, kind="longtext", required=True),
    Field("goal_actual", "年度总体目标（实际完成情况）", SHEET_PROJECT, kind="longtext", required=True),
    Field("conclusion", "评价结论", SHEET_PROJECT, kind="longtext"),
    Field("problems_text", "存在的问题", SHEET_PROJECT, kind="longtext"),
    Field("measures", "改进措施", SHEET_PROJECT, kind="longtext"),
    Field("contact_name", "联系人", SHEET_PROJECT),
    Field("contact_phone", "联系电话", SHEET_PROJECT),
    Field("contact_email", "联系邮箱", SHEET_PROJECT, kind="email", note="评价结果将发送到此邮箱"),
    Field("project_leader", "项目负责人", SHEET_PROJECT),
    Field("finance_leader", "财务负责人", SHEET_PROJECT),
    Field("report_date", "填报日期", SHEET_PROJECT, kind="date", required=True,
          note="如：2024-04-30、2024.4.30 或 2024年4月30日"),
)

# The project form's indicator table: the perf_indicators columns without 指标性质 / 指标值上限 (the
# direction is read from 年度指标值: ≥95%, ≤5天, 1～7天, a plain number is ≥, text is 定性).
_PROJECT_ORDER = ("level1", "level2", "name", "target", "actual", "unit", "points", "self_score", "deviation_note")
_PROJECT_CHANGES: dict[str, dict[str, str]] = {
    "self_score": {"header": "自评得分（定性指标填写）", "note": "仅定性指标填写"},
    "target": {"note": "≥95%、≤5天、1～7天、=100；只写数字的按 ≥ 计分；定性指标填文字"},
}
PROJECT_INDICATORS = Table(
    name="project_indicators",
    sheet=SHEET_PROJECT,
    title="绩效指标",
    rows=12,
    min_rows=1,
    columns=tuple(replace(c, **_PROJECT_CHANGES.get(c.key, {}))  # type: ignore[arg-type]
                  for key in _PROJECT_ORDER for c in PERF_COLUMNS if c.key == key),
)


# =========================================================================== the forms
@dataclass(frozen=True)
class Form:
    """One kind of workbook the tool collects: what the template, reader and validator share."""

    name: str  # "dept" | "project": results.json ``form``, ``jixiao template --form``
    title: str  # 部门整体支出绩效自评 / 项目支出绩效自评
    template_id: str
    file_name: str  # the template's file name
    sheets: tuple[str, ...]
    fields: tuple[Field, ...]
    tables: tuple[Table, ...]
    indicator_table: Table  # the table of MOF indicator rows (perf_indicators / project_indicators)
    default_scheme: str  # the built-in scheme used when a workbook names none


DEPT = Form("dept", "部门整体支出绩效自评", TEMPLATE_ID, TEMPLATE_FILE_NAME, SHEETS, STATIC_FIELDS, TABLES,
            PERF_INDICATORS, "jianghua-2023")
PROJECT = Form("project", "项目支出绩效自评", PROJECT_TEMPLATE_ID, PROJECT_TEMPLATE_FILE_NAME, PROJECT_SHEETS,
               PROJECT_FIELDS, (PROJECT_INDICATORS,), PROJECT_INDICATORS, "mof-project-2020")
FORMS: dict[str, Form] = {f.name: f for f in (DEPT, PROJECT)}


def form(name: str) -> Form:
    """The form called ``name`` ("dept" / "project")."""
    return FORMS[name]


def form_of_template(template_id: str) -> Form | None:
    return next((f for f in FORMS.values() if f.template_id == template_id), None)
