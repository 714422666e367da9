"""A partition-load accountant: the read and write units a table and its indexes consume, per
partition key per second, as DynamoDB bills them.

``FakeDynamoDB`` calls it when given one (``FakeDynamoDB(load=PartitionLoad(clock, ...))``), so a
simulation over the plain fakes can say which partition key would carry how much, and where the
design meets DynamoDB's per-partition ceiling (1,000 write units and 3,000 read units a second,
for a table and for each global secondary index alike). The rules, as AWS documents them:

- **Item size** (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
  the sum of the attribute names' and values' lengths. A string is its UTF-8 bytes; a number about
  one byte per two significant digits plus one; a binary its raw bytes; a Boolean or null one
  byte; a list or map 3 bytes plus one byte per element plus its elements (a map's elements with
  their names). A set is counted as the sum of its members (the page gives sets no overhead of
  their own).
- **Units** (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html):
  a write is one unit per 1 KB, rounded up per item; PutItem, UpdateItem and DeleteItem bill the
  larger of the item before and after; a write whose condition fails still consumes (the item's
  size, at least one unit). A strongly consistent read is one unit per 4 KB, an eventually
  consistent one half that; GetItem rounds each item up to 4 KB (a missing item still costs the
  minimum); BatchGetItem rounds each item up on its own; a Query sums the sizes of the items it
  reads (before any filter: a ``FilterExpression`` saves nothing) and rounds the page's sum up,
  one page holding at most 1 MB read.
- **Global secondary indexes**
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations):
  reads are eventually consistent and billed on the index entries read; a table write that puts an
  item into an index, removes it, or changes its projected attributes writes the index entry too,
  on the index's own partition key; a write that changes an index key attribute is two index
  writes, a delete of the old entry and a put of the new. An entry holds the table's key, the
  index's keys and the projection (``ALL``: the whole item; ``KEYS_ONLY``: keys alone). The 100
  bytes of overhead an index entry has for storage are not billed as throughput here.
- **Per-partition ceilings**
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/throttling-key-range-limit-exceeded-mitigation.html):
  1,000 write units and 3,000 read units a second per partition, for tables and indexes.

Units land on the partition key value they are billed to (``table``, ``table/index``), in the
second of the supplied clock the call happened in. Index shapes come from template.yaml
(``template_indexes``), not from a copy of it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Item = dict[str, Any]

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
QUERY_PAGE_BYTES = 1024 * 1024  # a Query or Scan page reads at most 1 MB
PARTITION_WRITE_UNITS_PER_S = 1000
PARTITION_READ_UNITS_PER_S = 3000


# ---------------------------------------------------------------------- sizes
def _utf8(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's wire form (``{"S": ...}``), its name left out."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return _utf8(raw)
    if kind == "N":
        return _number_size(raw)
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return _utf8("".join(raw))
    if kind == "NS":
        return sum(_number_size(member) for member in raw)
    if kind == "BS":
        return sum(len(member) for member in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in raw)
    if kind == "M":
        return 3 + sum(1 + _utf8(name) + value_size(element) for name, element in raw.items())
    raise ValueError(f"not a DynamoDB value type: {kind}")


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB computes it: every attribute's name and value."""
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """1 KB per unit, rounded up, at least one."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    """4 KB per unit, rounded up, at least one; half for an eventually consistent read."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


# ---------------------------------------------------------------------- index shapes
@dataclass(frozen=True)
class IndexShape:
    """A global secondary index: its keys and what it projects."""

    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()

    def entry(self, item: Item | None, table_key: str) -> Item | None:
        """``item``'s entry in this index; None when the item is not in it (sparse: a key missing)."""
        if item is None or self.hash_key not in item:
            return None
        if self.range_key is not None and self.range_key not in item:
            return None
        if self.projection == "ALL":
            return item
        names = {table_key, self.hash_key, *((self.range_key,) if self.range_key else ()), *self.included}
        return {name: item[name] for name in names if name in item}

    def keys_of(self, entry: Item) -> tuple[Any, ...]:
        return tuple(_plain(entry.get(name)) for name in (self.hash_key, self.range_key) if name)


def _plain(value: Mapping[str, Any] | None) -> Any:
    return None if value is None else next(iter(value.values()))


def template_indexes(resource: str = "RecoveriesTable") -> tuple[IndexShape, ...]:
    """The global secondary indexes ``resource`` has in template.yaml."""
    from recovery_ops.service.local.engine.cfn_template import load_template

    properties = load_template()["Resources"][resource]["Properties"]
    shapes = []
    for index in properties.get("GlobalSecondaryIndexes", []):
        keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        projection = index.get("Projection", {})
        shapes.append(
            IndexShape(
                name=index["IndexName"],
                hash_key=keys["HASH"],
                range_key=keys.get("RANGE"),
                projection=projection.get("ProjectionType", "ALL"),
                included=tuple(projection.get("NonKeyAttributes", ())),
            )
        )
    return tuple(shapes)


# ---------------------------------------------------------------------- the accountant
Where = tuple[str, str]  # (table or table/index, partition key value)


@dataclass(frozen=True)
class Peak:
    """The most units one partition key took in one second."""

    units: float
    where: str
    key: str
    second: int

    def as_dict(self) -> dict[str, Any]:
        return {"units": self.units, "where": self.where, "key": self.key, "second": self.second}


@dataclass
class PartitionLoad:
    """Counts units per (table or index, partition key value, second of ``clock``).

    ``indexes``: per table name, its global secondary indexes; ``table_key``: the tables' partition
    key attribute (the fake keys every table by one attribute)."""

    clock: Callable[[], datetime | float]
    indexes: Mapping[str, tuple[IndexShape, ...]] = field(default_factory=dict)
    table_key: str = "recovery_id"
    writes: dict[tuple[str, str, int], float] = field(default_factory=lambda: defaultdict(float))
    reads: dict[tuple[str, str, int], float] = field(default_factory=lambda: defaultdict(float))
    total_write_units: float = 0.0
    total_read_units: float = 0.0
    largest_item: tuple[int, str, str] = (0, "", "")  # (bytes, table or index, key)

    # ------------------------------------------------------------------ what the fake reports
    def wrote(
        self,
        table: str,
        before: Item | None,
        after: Item | None,
        failed: bool = False,
        transactional: bool = False,
    ) -> None:
        """One PutItem / UpdateItem / DeleteItem on ``table``: ``before`` and ``after`` the write
        (``failed``: its condition failed, nothing changed, the item's size is billed anyway;
        ``transactional``: a write of a TransactWriteItems, billed twice on the table, as DynamoDB
        bills transactions; its indexes are billed as any write's)."""
        second = self._second()
        item_key = _plain((after or before or {}).get(self.table_key)) or ""
        before_size = item_size(before) if before is not None else 0
        after_size = before_size if failed else (item_size(after) if after is not None else 0)
        units = write_units(max(before_size, after_size)) * (2 if transactional else 1)
        self._charge(self.writes, (table, str(item_key)), second, units)
        if failed:
            return
        self._saw(after_size, table, str(item_key))
        for index in self.indexes.get(table, ()):
            self._index_write(table, index, before, after, second)

    def got(self, table: str, item: Item | None, key: str, consistent: bool) -> None:
        """One item read by GetItem or within a BatchGetItem (``item`` None: not found)."""
        size = item_size(item) if item is not None else 0
        self._charge(self.reads, (table, key), self._second(), read_units(size, consistent))

    def queried(
        self, table: str, index: str | None, key: str, entries: Iterable[Item], consistent: bool = False
    ) -> None:
        """One Query page on ``table`` (or its ``index``) under partition key ``key``: ``entries``,
        every entry read (before any filter)."""
        where = table if index is None else f"{table}/{index}"
        size = sum(item_size(entry) for entry in entries)
        self._charge(self.reads, (where, key), self._second(), read_units(size, consistent))

    # ------------------------------------------------------------------ what a report reads
    def peak_writes(self, since: int | None = None) -> Peak:
        """The busiest key's busiest second (from second ``since`` on, when given)."""
        return _peak(_from(self.writes, since))

    def peak_reads(self, since: int | None = None) -> Peak:
        return _peak(_from(self.reads, since))

    def over_limits(self) -> dict[str, int]:
        """Reported, never raised: the key-seconds past DynamoDB's per-partition ceilings (a key
        over its write ceiling and its read ceiling in one second counts once in each), and the
        seconds of the clock in which any key was over."""
        writes = {at for at, units in self.writes.items() if units > PARTITION_WRITE_UNITS_PER_S}
        reads = {at for at, units in self.reads.items() if units > PARTITION_READ_UNITS_PER_S}
        return {
            "throttled_key_seconds": len(writes) + len(reads),
            "throttled_write_key_seconds": len(writes),
            "throttled_read_key_seconds": len(reads),
            "throttled_seconds": len({second for _where, _key, second in writes | reads}),
        }

    def busiest(self, reads: bool = False, top: int = 5) -> list[dict[str, Any]]:
        """The ``top`` partition keys by their busiest second (write units, or read units)."""
        best: dict[Where, tuple[float, int]] = {}
        for (where, key, second), units in (self.reads if reads else self.writes).items():
            if units > best.get((where, key), (0.0, 0))[0]:
                best[(where, key)] = (units, second)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:top]
        return [
            {"where": where, "key": key, "peak_units_per_s": units, "second": second}
            for (where, key), (units, second) in ranked
        ]

    def peak_by_where(self, reads: bool = False) -> dict[str, float]:
        """Per table and per index, the busiest partition key's busiest second."""
        peaks: dict[str, float] = {}
        for (where, _key, _second), units in (self.reads if reads else self.writes).items():
            peaks[where] = max(peaks.get(where, 0.0), units)
        return peaks

    def report(self) -> dict[str, Any]:
        size, where, key = self.largest_item
        return {
            "peak_write_units_per_partition_key_per_s": self.peak_writes().units,
            "peak_read_units_per_partition_key_per_s": self.peak_reads().units,
            "peak_write_units_by_table_and_index": self.peak_by_where(),
            "peak_read_units_by_table_and_index": self.peak_by_where(reads=True),
            "busiest_write_keys": self.busiest(),
            "busiest_read_keys": self.busiest(reads=True),
            "largest_item_kb": round(size / 1024, 1),
            "largest_item": {"where": where, "key": key, "bytes": size},
            "total_write_units": self.total_write_units,
            "total_read_units": self.total_read_units,
        }

    # ------------------------------------------------------------------ within
    def _index_write(
        self, table: str, index: IndexShape, before: Item | None, after: Item | None, second: int
    ) -> None:
        where = f"{table}/{index.name}"
        old, new = index.entry(before, self.table_key), index.entry(after, self.table_key)
        if old is None and new is None:
            return
        if old is not None and new is not None and index.keys_of(old) == index.keys_of(new):
            if old != new:  # its projected attributes changed: one write of the entry
                size = max(item_size(old), item_size(new))
                self._charge(self.writes, (where, str(index.keys_of(new)[0])), second, write_units(size))
                self._saw(item_size(new), where, str(index.keys_of(new)[0]))
            return
        if old is not None:  # removed from the index, or its key changed: a delete
            self._charge(
                self.writes, (where, str(index.keys_of(old)[0])), second, write_units(item_size(old))
            )
        if new is not None:  # added to the index, or its key changed: a put
            size = item_size(new)
            self._charge(self.writes, (where, str(index.keys_of(new)[0])), second, write_units(size))
            self._saw(size, where, str(index.keys_of(new)[0]))

    def _charge(
        self, ledger: dict[tuple[str, str, int], float], at: Where, second: int, units: float
    ) -> None:
        ledger[(at[0], at[1], second)] += units
        if ledger is self.writes:
            self.total_write_units += units
        else:
            self.total_read_units += units

    def _saw(self, size: int, where: str, key: str) -> None:
        if size > self.largest_item[0]:
            self.largest_item = (size, where, key)

    def _second(self) -> int:
        now = self.clock()
        return int(now.timestamp() if isinstance(now, datetime) else now)


def _from(
    ledger: Mapping[tuple[str, str, int], float], since: int | None
) -> Mapping[tuple[str, str, int], float]:
    if since is None:
        return ledger
    return {at: units for at, units in ledger.items() if at[2] >= since}


def _peak(ledger: Mapping[tuple[str, str, int], float]) -> Peak:
    if not ledger:
        return Peak(0.0, "", "", 0)
    (where, key, second), units = max(ledger.items(), key=lambda kv: kv[1])
    return Peak(units, where, key, second)
