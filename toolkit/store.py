"""UnitStore: the units of a run kept as compact JSON bytes, decoded one at a time on access.

A province runs tens of thousands of workbooks: the main process keeps ~2 KB per unit instead of
~10 KB of Python objects, and every consumer (phase 2, the summary, results.json) decodes one
unit at a time. Each unit is stored with its batch-private ``RunRecord`` (duplicate key, scheme,
staged document) and its problems' params (so their text can be re-rendered).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import overload

from toolkit.process import RunRecord
from toolkit.results import UnitResult


def encode(unit: UnitResult, record: RunRecord) -> bytes:
    d = unit.to_json(with_params=True)
    rec = (list(record.key) if record.key is not None else None, record.scheme, record.staging,
           record.report_name)
    return json.dumps([d, rec], ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode(item: bytes) -> tuple[UnitResult, RunRecord]:
    d, (key, scheme, staging, report_name) = json.loads(item)
    return UnitResult.from_json(d), RunRecord(tuple(key) if key is not None else None, scheme, staging,
                                              report_name)


class UnitStore(Sequence[UnitResult]):
    """``store[i]`` is the i-th unit (decoded afresh); ``store.record(i)`` its private record."""

    def __init__(self, units: Iterable[UnitResult | tuple[UnitResult, RunRecord]] = ()) -> None:
        self._items: list[bytes] = []
        for u in units:
            self.append(*(u if isinstance(u, tuple) else (u, RunRecord())))

    @classmethod
    def from_encoded(cls, items: Iterable[bytes]) -> UnitStore:
        """A store of units already encoded with ``encode`` (phase 1 keeps them in file order)."""
        store = cls()
        store._items = list(items)
        return store

    def append(self, unit: UnitResult, record: RunRecord = RunRecord()) -> None:
        self._items.append(encode(unit, record))

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> UnitResult: ...
    @overload
    def __getitem__(self, i: slice) -> list[UnitResult]: ...

    def __getitem__(self, i: int | slice) -> UnitResult | list[UnitResult]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return _decode(self._items[i])[0]

    def get(self, i: int) -> tuple[UnitResult, RunRecord]:
        """The i-th unit with its private record."""
        return _decode(self._items[i])

    def record(self, i: int) -> RunRecord:
        return _decode(self._items[i])[1]

    def set(self, i: int, unit: UnitResult, record: RunRecord) -> None:
        self._items[i] = encode(unit, record)
