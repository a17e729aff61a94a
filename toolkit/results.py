"""Typed results: one frozen ``UnitResult`` per workbook, shared by the batch, 汇总表, mail and the
analysis; ``results.json`` is its JSON form (contract: docs/results-json.md, docs/results.schema.json).

``UnitResult.to_json()`` gives exactly the keys and key order results.json has always had (new keys
are only ever added at the end), so a unit survives ``from_json(to_json())`` unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from toolkit.errors import JixiaoError
from toolkit.problems import Problem

Status = Literal["ok", "invalid", "unreadable"]
Form = Literal["dept", "project"]
STATUSES: tuple[Status, ...] = ("ok", "invalid", "unreadable")
RESULTS_FILE = "results.json"


class ResultsError(JixiaoError, ValueError):
    """results.json is missing, not JSON, or not in the documented shape (Chinese message)."""


@dataclass(frozen=True)
class IndicatorResult:
    id: str
    path: tuple[str, ...]
    points: float
    value: float | None
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "path": list(self.path), "points": self.points, "value": self.value,
                "score": self.score}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> IndicatorResult:
        return cls(str(d["id"]), tuple(d["path"]), d["points"], d.get("value"), d["score"])


@dataclass(frozen=True)
class UnitResult:
    """One workbook's result, as results.json records it."""

    file: str  # relative to INBOX, / separators
    status: Status
    unit_name: str | None = None
    unit_code: str | None = None
    fiscal_year: int | None = None
    contact_name: str | None = None
    contact_email: str | None = None  # the clean text: may hold several addresses
    total: float | None = None
    grade: str | None = None
    levels: Mapping[str, float] | None = None
    indicators: tuple[IndicatorResult, ...] | None = None
    problems: tuple[Problem, ...] = ()
    report: str | None = None  # relative to OUT
    returned: str | None = None  # relative to OUT
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys added later (form, scheme, previous_total…)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def is_project(self) -> bool:
        """A 项目支出绩效自评表 (spec 06: ``form`` "project"); anything else is a department workbook."""
        return self.extra.get("form") == "project"

    @property
    def label(self) -> str:
        """How the officer knows the unit: its name (with the project's, for a project form), else its file."""
        project = self.extra.get("project_name")
        if self.unit_name and project:
            return f"{self.unit_name}·{project}"
        return self.unit_name or self.file

    def to_json(self, *, with_params: bool = False) -> dict[str, Any]:
        """results.json's entry; ``with_params`` keeps the problems' params (the batch's own store)."""
        d: dict[str, Any] = {
            "file": self.file, "status": self.status, "unit_name": self.unit_name, "unit_code": self.unit_code,
            "fiscal_year": self.fiscal_year, "contact_name": self.contact_name,
            "contact_email": self.contact_email, "total": self.total, "grade": self.grade,
            "levels": dict(self.levels) if self.levels is not None else None,
            "indicators": [i.to_json() for i in self.indicators] if self.indicators is not None else None,
            "problems": [p.as_dict(with_params=with_params) for p in self.problems],
            "report": self.report, "returned": self.returned,
        }
        d.update(self.extra)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> UnitResult:
        if not isinstance(d, Mapping) or d.get("status") not in STATUSES or not isinstance(d.get("file"), str):
            raise ResultsError(f"{RESULTS_FILE} 中有一项格式不对（缺少 file 或 status）")
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        inds = d.get("indicators")
        return cls(
            file=d["file"], status=d["status"], unit_name=d.get("unit_name"), unit_code=d.get("unit_code"),
            fiscal_year=d.get("fiscal_year"), contact_name=d.get("contact_name"),
            contact_email=d.get("contact_email"), total=d.get("total"), grade=d.get("grade"),
            levels=d.get("levels"),
            indicators=tuple(IndicatorResult.from_json(i) for i in inds) if inds is not None else None,
            problems=tuple(Problem.from_dict(p) for p in d.get("problems") or ()),
            report=d.get("report"), returned=d.get("returned"),
            extra={k: v for k, v in d.items() if k not in known and not k.startswith("_")},
        )


@dataclass(frozen=True)
class Results:
    """A whole results.json."""

    scheme: str
    units: Sequence[UnitResult]  # a tuple, or a lazy sequence (the batch's compact store) decoded on access
    extra: Mapping[str, Any] = field(default_factory=dict)  # outputs, missing, …

    def to_json(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "units": [u.to_json() for u in self.units], **self.extra}

    @classmethod
    def from_json(cls, d: Any) -> Results:
        if not isinstance(d, Mapping) or not isinstance(d.get("units"), list):
            raise ResultsError(f"{RESULTS_FILE} 格式不对：缺少 units 列表")
        return cls(str(d.get("scheme") or ""), tuple(UnitResult.from_json(u) for u in d["units"]),
                   {k: v for k, v in d.items() if k not in ("scheme", "units")})

    @classmethod
    def load(cls, path: Path) -> Results:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResultsError(f"没有找到 {path}：请先运行 jixiao run") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ResultsError(f"{path} 无法读取（{type(e).__name__}）：请重新运行 jixiao run") from None
        return cls.from_json(data)


def units_of(items: Iterable[Mapping[str, Any]]) -> tuple[UnitResult, ...]:
    return tuple(UnitResult.from_json(u) for u in items)
