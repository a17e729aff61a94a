"""A run's results as pandas DataFrames, for analysts and for 汇总分析报告.docx.

    from toolkit import analysis
    from toolkit.results import Results
    res = Results.load(Path("输出/results.json"))
    analysis.units(res)                       # one row per workbook, a column per 一级指标
    analysis.ranking(res, Results.load(Path("上年输出/results.json")))   # + previous_total, change, rank_change
    analysis.weakest_level2(res)              # lowest mean share of points across ok units
    analysis.projects(res)                    # one row per 项目支出绩效自评表 (spec 06)

The functions live in ``toolkit.write.analysis_data`` (the report writer uses them too); this module is
their public name.
"""

from __future__ import annotations

from toolkit.write.analysis_data import (
    below_full,
    cents,
    grade_distribution,
    grade_moves,
    indicators,
    level2,
    level_averages,
    problem_themes,
    problems,
    projects,
    ranking,
    units,
    weakest_level2,
    year_over_year,
)

__all__ = ["cents", "units", "indicators", "problems", "grade_distribution", "level_averages", "level2",
           "weakest_level2", "below_full", "ranking", "year_over_year", "grade_moves", "problem_themes", "projects"]
