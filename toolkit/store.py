"""UnitStore: the units of a run kept as compact pickled bytes, decoded one at a time on access.

A province runs tens of thousands of workbooks: the main process keeps ~2 KB per unit instead of
~10 KB of Python objects, and every consumer (phase 2, the summary, results.json) decodes one
unit at a time. Each unit's bytes are made once, in the worker (``encode``), and travel over the
pipe as they are; its batch-private ``RunRecord`` (duplicate key, scheme, staged document; a few
short strings) is kept beside them as an object, so phase 2 reads records without decoding units.
Problems keep their params (so their text can be re-rendered). Pickle, not JSON: the bytes never
leave the run, and pickle is about 2.5x faster both ways and 20% smaller (benchmarks/README.md).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from typing import overload

from toolkit.process import RunRecord
from toolkit.results import UnitResult

_PROTOCOL = pickle.HIGHEST_PROTOCOL


def encode(unit: UnitResult) -> bytes:
    return pickle.dumps(unit, _PROTOCOL)


def decode(item: bytes) -> UnitResult:
    unit: UnitResult = pickle.loads(item)
    return unit


class UnitStore(Sequence[UnitResult]):
    """``store[i]`` is the i-th unit (decoded afresh); ``store.record(i)`` its private record."""

    def __init__(self, units: Iterable[UnitResult | tuple[UnitResult, RunRecord]] = ()) -> None:
        self._items: list[bytes] = []
        self._records: list[RunRecord] = []
        for u in units:
            self.append(*(u if isinstance(u, tuple) else (u, RunRecord())))

    @classmethod
    def from_encoded(cls, items: Iterable[tuple[bytes, RunRecord]]) -> UnitStore:
        """A store of units already encoded with ``encode`` (phase 1 keeps them in file order)."""
        store = cls()
        for item, record in items:
            store._items.append(item)
            store._records.append(record)
        return store

    def append(self, unit: UnitResult, record: RunRecord = RunRecord()) -> None:
        self._items.append(encode(unit))
        self._records.append(record)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> UnitResult: ...
    @overload
    def __getitem__(self, i: slice) -> list[UnitResult]: ...

    def __getitem__(self, i: int | slice) -> UnitResult | list[UnitResult]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return decode(self._items[i])

    def get(self, i: int) -> tuple[UnitResult, RunRecord]:
        """The i-th unit with its private record."""
        return decode(self._items[i]), self._records[i]

    def record(self, i: int) -> RunRecord:
        return self._records[i]

    def set(self, i: int, unit: UnitResult, record: RunRecord) -> None:
        self._items[i] = encode(unit)
        self._records[i] = record

    def set_record(self, i: int, record: RunRecord) -> None:
        """Replace only the record (the unit's bytes stay as they are)."""
        self._records[i] = record
