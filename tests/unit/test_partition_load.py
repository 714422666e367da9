"""The partition-load accountant bills each call as DynamoDB does: exact small cases."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.fakes import FakeDynamoDB
from tests.support.partition_load import (
    IndexShape,
    PartitionLoad,
    item_size,
    template_indexes,
    value_size,
)

TABLE = "recoveries"
BY_STATUS = IndexShape("by-status", "status", "created_sort", "ALL")
BY_EXECUTION = IndexShape("by-execution", "execution_arn", None, "KEYS_ONLY")
BY_DUE = IndexShape("by-due", "due", "due_at", "KEYS_ONLY")


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _table() -> tuple[FakeDynamoDB, PartitionLoad, Seconds]:
    clock = Seconds()
    load = PartitionLoad(clock, indexes={TABLE: (BY_STATUS, BY_EXECUTION, BY_DUE)})
    return FakeDynamoDB(load=load), load, clock


def _item(n: int, size: int, status: str = "OPEN") -> dict[str, Any]:
    """Recovery ``n`` of exactly ``size`` bytes (its ``pad`` makes up the rest)."""
    item = {
        "recovery_id": {"S": f"rec-{n}"},
        "status": {"S": status},
        "created_sort": {"S": f"2026-01-01T00:00:0{n}#rec-{n}"},
        "execution_arn": {"S": f"arn-{n}"},
        "pad": {"S": ""},
    }
    item["pad"] = {"S": "x" * (size - item_size(item))}
    assert item_size(item) == size
    return item


def _units(ledger: dict[tuple[str, str, int], float]) -> dict[tuple[str, str], float]:
    return {(where, key): units for (where, key, _second), units in ledger.items()}


# ---------------------------------------------------------------------- sizes
def test_a_string_is_its_name_and_its_utf8_bytes() -> None:
    assert item_size({"id": {"S": "abc"}}) == 2 + 3
    assert item_size({"é": {"S": "ü€"}}) == 2 + 2 + 3


def test_a_number_is_a_byte_per_two_significant_digits_and_one() -> None:
    assert value_size({"N": "12345"}) == 3 + 1
    assert value_size({"N": "-0012.3400"}) == 2 + 1  # leading and trailing zeros trimmed: 1234
    assert value_size({"N": "7"}) == 1 + 1


def test_lists_and_maps_carry_three_bytes_and_one_per_element() -> None:
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"key": {"S": "v"}}}) == 3 + 1 + 3 + 1
    assert value_size({"L": []}) == 3


def test_booleans_nulls_binaries_and_sets() -> None:
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"B": b"\x00\x01\x02"}) == 3
    assert value_size({"SS": ["ab", "cde"]}) == 5


# ---------------------------------------------------------------------- writes
def test_a_put_bills_the_table_and_each_index_the_item_is_in() -> None:
    # Given a table with the status (ALL), execution (KEYS_ONLY) and due (KEYS_ONLY) indexes
    dynamodb, load, _ = _table()

    # When a 1,500-byte recovery without due attributes is put
    dynamodb.put_item(TableName=TABLE, Item=_item(1, 1500))

    # Then 2 units on its key, 2 on OPEN (the whole item), 1 on its execution (keys), none on by-due
    assert _units(load.writes) == {
        (TABLE, "rec-1"): 2,
        (f"{TABLE}/by-status", "OPEN"): 2,
        (f"{TABLE}/by-execution", "arn-1"): 1,
    }


def test_an_update_bills_the_larger_of_before_and_after() -> None:
    # Given a 1,000-byte recovery
    dynamodb, load, _ = _table()
    dynamodb.put_item(TableName=TABLE, Item=_item(1, 1000))
    load.writes.clear()

    # When an update removes its padding (down to a few dozen bytes)
    dynamodb.update_item(TableName=TABLE, Key={"recovery_id": {"S": "rec-1"}}, UpdateExpression="REMOVE pad")

    # Then the table and the ALL index bill the 1,000 bytes before; the keys-only index nothing
    assert _units(load.writes) == {(TABLE, "rec-1"): 1, (f"{TABLE}/by-status", "OPEN"): 1}


def test_a_status_change_is_a_delete_and_a_put_in_the_status_index() -> None:
    # Given a 2,500-byte OPEN recovery
    dynamodb, load, _ = _table()
    dynamodb.put_item(TableName=TABLE, Item=_item(1, 2500))
    load.writes.clear()

    # When it moves to RESUMING (two bytes longer)
    dynamodb.update_item(
        TableName=TABLE,
        Key={"recovery_id": {"S": "rec-1"}},
        UpdateExpression="SET #s = :to",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":to": {"S": "RESUMING"}},
    )

    # Then OPEN loses its entry (3 units), RESUMING gets it (3 units), the table bills 3
    assert _units(load.writes) == {
        (TABLE, "rec-1"): 3,
        (f"{TABLE}/by-status", "OPEN"): 3,
        (f"{TABLE}/by-status", "RESUMING"): 3,
    }


def test_a_sparse_index_bills_the_keys_when_an_item_enters_it() -> None:
    # Given a recovery outside the due index
    dynamodb, load, _ = _table()
    dynamodb.put_item(TableName=TABLE, Item=_item(1, 3000))
    load.writes.clear()

    # When a lease puts it in
    dynamodb.update_item(
        TableName=TABLE,
        Key={"recovery_id": {"S": "rec-1"}},
        UpdateExpression="SET due = :d, due_at = :at",
        ExpressionAttributeValues={":d": {"S": "lease"}, ":at": {"S": "2026"}},
    )

    # Then by-due bills one unit (its keys) on "lease"; the status index bills the changed item
    assert _units(load.writes) == {
        (TABLE, "rec-1"): 3,
        (f"{TABLE}/by-status", "OPEN"): 3,
        (f"{TABLE}/by-due", "lease"): 1,
    }


def test_a_failed_condition_still_bills_the_item_and_no_index() -> None:
    # Given a 3,000-byte recovery
    dynamodb, load, _ = _table()
    dynamodb.put_item(TableName=TABLE, Item=_item(1, 3000))
    load.writes.clear()

    # When a conditional update fails
    with pytest.raises(ClientError):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"recovery_id": {"S": "rec-1"}},
            UpdateExpression="SET pad = :p",
            ConditionExpression="attribute_not_exists(recovery_id)",
            ExpressionAttributeValues={":p": {"S": "y"}},
        )

    # Then the table bills the item's 3 KB, the indexes nothing
    assert _units(load.writes) == {(TABLE, "rec-1"): 3}


# ---------------------------------------------------------------------- reads
def test_get_item_rounds_up_to_4_kb_and_halves_when_eventually_consistent() -> None:
    dynamodb, load, _ = _table()
    dynamodb.put_item(TableName=TABLE, Item=_item(1, 5000))

    dynamodb.get_item(TableName=TABLE, Key={"recovery_id": {"S": "rec-1"}}, ConsistentRead=True)
    assert _units(load.reads) == {(TABLE, "rec-1"): 2}
    dynamodb.get_item(TableName=TABLE, Key={"recovery_id": {"S": "rec-1"}})
    assert _units(load.reads) == {(TABLE, "rec-1"): 3}
    dynamodb.get_item(TableName=TABLE, Key={"recovery_id": {"S": "rec-9"}}, ConsistentRead=True)
    assert _units(load.reads)[(TABLE, "rec-9")] == 1  # nothing found still costs the minimum


def test_batch_get_rounds_each_item_up() -> None:
    # Given items of 1,500 and 6,500 bytes
    dynamodb, load, _ = _table()
    dynamodb.put_item(TableName=TABLE, Item=_item(1, 1500))
    dynamodb.put_item(TableName=TABLE, Item=_item(2, 6500))

    # When both are read in one strongly consistent batch
    keys = [{"recovery_id": {"S": "rec-1"}}, {"recovery_id": {"S": "rec-2"}}]
    dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})

    # Then 4 KB + 8 KB: 1 + 2 units, not 2
    assert _units(load.reads) == {(TABLE, "rec-1"): 1, (TABLE, "rec-2"): 2}


def test_a_query_sums_every_entry_read_the_filter_saves_nothing() -> None:
    # Given three 1,500-byte open recoveries
    dynamodb, load, _ = _table()
    for n in (1, 2, 3):
        dynamodb.put_item(TableName=TABLE, Item=_item(n, 1500))

    # When the status index is queried with a filter that keeps one
    answer = dynamodb.query(
        TableName=TABLE,
        IndexName="by-status",
        KeyConditionExpression="#s = :s",
        FilterExpression="execution_arn = :arn",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "OPEN"}, ":arn": {"S": "arn-2"}},
    )

    # Then one item comes back, and the 4,500 bytes read bill 2 units, halved: 1 on OPEN
    assert [i["recovery_id"]["S"] for i in answer["Items"]] == ["rec-2"]
    assert _units(load.reads) == {(f"{TABLE}/by-status", "OPEN"): 1.0}


def test_a_query_pages_at_one_megabyte_read() -> None:
    # Given three open recoveries of 500 KB
    dynamodb, load, _ = _table()
    for n in (1, 2, 3):
        dynamodb.put_item(TableName=TABLE, Item=_item(n, 500 * 1024))
    query = {
        "TableName": TABLE,
        "IndexName": "by-status",
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "OPEN"}},
        "ScanIndexForward": False,
    }

    # When they are read newest first, page after page
    first = dynamodb.query(**query)
    second = dynamodb.query(**query, ExclusiveStartKey=first["LastEvaluatedKey"])

    # Then a page holds what fits in 1 MB (two), the next the rest, each billed for what it read
    assert [i["recovery_id"]["S"] for i in first["Items"]] == ["rec-3", "rec-2"]
    assert [i["recovery_id"]["S"] for i in second["Items"]] == ["rec-1"]
    assert "LastEvaluatedKey" not in second
    assert _units(load.reads) == {(f"{TABLE}/by-status", "OPEN"): (250 + 125) / 2}


# ---------------------------------------------------------------------- per second, and the report
def test_units_are_counted_per_second_and_the_peak_is_the_busiest() -> None:
    # Given puts of 1 KB items: two in one second, one in the next
    dynamodb, load, clock = _table()
    dynamodb.put_item(TableName=TABLE, Item=_item(1, 1024))
    dynamodb.put_item(TableName=TABLE, Item=_item(2, 1024))
    clock.now += 1.5
    dynamodb.put_item(TableName=TABLE, Item=_item(3, 1024))

    # When the peak is read
    peak = load.peak_writes()

    # Then OPEN took 2 units in the first second: the busiest key
    assert (peak.units, peak.where, peak.key, peak.second) == (2, f"{TABLE}/by-status", "OPEN", 1000)
    assert load.report()["largest_item_kb"] == 1.0
    assert load.busiest()[0] == {
        "where": f"{TABLE}/by-status",
        "key": "OPEN",
        "peak_units_per_s": 2,
        "second": 1000,
    }


def test_the_indexes_are_the_templates() -> None:
    shapes = {shape.name: shape for shape in template_indexes()}

    assert shapes["by-status"] == BY_STATUS
    assert shapes["by-execution"] == BY_EXECUTION
    assert shapes["by-due"] == BY_DUE


# ---------------------------------------------------------------------- reports
def test_keys_over_the_per_partition_limits_are_reported_per_second_not_raised() -> None:
    # Given one key written 1,200 units in one second and 900 in the next, and another read 3,100 units
    load = PartitionLoad(Seconds())
    load.writes[(TABLE, "hot", 1000)] = 1200.0
    load.writes[(TABLE, "hot", 1001)] = 900.0
    load.reads[(f"{TABLE}/by-status", "OPEN", 1000)] = 3100.0
    load.reads[(f"{TABLE}/by-status", "OPEN", 1002)] = 3000.0  # at the limit: not over

    # When the report is read
    over = load.over_limits()

    # Then two key-seconds are over (one write, one read), both in one second of the clock
    assert over == {
        "throttled_key_seconds": 2,
        "throttled_write_key_seconds": 1,
        "throttled_read_key_seconds": 1,
        "throttled_seconds": 1,
    }


def test_a_peak_since_a_second_leaves_out_the_seconds_before_it() -> None:
    load = PartitionLoad(Seconds())
    load.writes[(TABLE, "early", 1000)] = 800.0
    load.writes[(TABLE, "late", 1050)] = 300.0

    assert load.peak_writes().key == "early"
    assert (load.peak_writes(since=1050).key, load.peak_writes(since=1050).units) == ("late", 300.0)
    assert load.peak_reads(since=1050).units == 0.0
