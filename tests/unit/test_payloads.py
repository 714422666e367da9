"""A recovery's large input and cause kept apart in the object store: the item stays small, the values
come back exactly, and nothing reaches the store half-written, altered or with the task token."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage import items as table_items
from recovery_ops.service.recovery.storage.payloads import (
    INLINE_LIMIT,
    PayloadMissingError,
    PayloadTamperedError,
    PayloadUnavailableError,
    S3Payloads,
    brought_back,
    kept_apart,
    payload_key,
)
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeS3
from tests.support.partition_load import item_size

TABLE = "recoveries"
BUCKET = "payloads"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAA" + "x7Qm9Zt3Lk2Wp8Rv5Yn1Hs4Jd6Fb0Gc" * 20  # about 660 characters, as AWS's


def large_input(size: int = 256 * 1024) -> dict[str, Any]:
    """A map of about ``size`` bytes of JSON text, unicode, numbers and nesting included."""
    lines: list[dict[str, Any]] = []
    written = 0
    while written < size - 400:
        n = len(lines)
        lines.append({"sku": f"Kaffeebohnen – {n} ☕ 日本", "qty": n, "price": n + 0.25, "gift": n % 2 == 0})
        written += len(json.dumps(lines[-1], ensure_ascii=False).encode()) + 1
    return {"order_id": "o-1", "lines": lines, "note": None, "tags": ["é", "ü", "🚚"]}


def a_recovery(step_input: Any = None, cause: str | None = None, token: str = TOKEN) -> Recovery:
    request = RecoveryRequest(
        task_token=token,
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:orders:run-1",
        execution_name="run-1",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:orders",
        failed_state="Check availability",
        input={"order_id": "o-1"} if step_input is None else step_input,
        error="VendorUnavailable",
        cause=cause,
    )
    return Recovery.from_request(request, datetime(2026, 3, 1, 12, tzinfo=UTC))


def a_store(s3: FakeS3 | None = None) -> tuple[RecoveryStore, FakeDynamoDB, FakeS3]:
    dynamodb, s3 = FakeDynamoDB(), s3 or FakeS3()
    return RecoveryStore(TABLE, dynamodb, payloads=S3Payloads(BUCKET, lambda: s3)), dynamodb, s3


def stored_item(dynamodb: FakeDynamoDB, recovery: Recovery) -> dict[str, Any]:
    return dynamodb.items(TABLE)[recovery.recovery_id]


# ---------------------------------------------------------------------- inline or kept apart
def test_small_values_stay_in_the_item_and_nothing_is_uploaded() -> None:
    # Given a recovery with an ordinary input and cause
    store, dynamodb, s3 = a_store()
    recovery = a_recovery({"order_id": "o-1", "quantity": 2}, cause="vendor said 503")

    # When it is stored and read back
    store.create_if_absent(recovery)
    back = store.get(recovery.recovery_id)

    # Then both are in the item, the object store was never called
    item = stored_item(dynamodb, recovery)
    assert "input" in item and "cause" in item and "input_ref" not in item
    assert s3.puts == [] and s3.gets == []
    assert (back.input, back.cause) == (recovery.input, recovery.cause)


def test_a_value_at_the_limit_stays_inline_and_one_byte_more_is_kept_apart() -> None:
    # Given two causes whose JSON text is exactly the limit and one byte over it (the quotes count)
    at_limit = "a" * (INLINE_LIMIT - 2)
    over = at_limit + "b"
    payloads = S3Payloads(BUCKET, FakeS3)

    # When each item is prepared for its write
    inline = kept_apart(table_items.recovery_item(a_recovery(cause=at_limit)), payloads)
    apart = kept_apart(table_items.recovery_item(a_recovery(cause=over)), payloads)

    # Then only the larger one is replaced by a reference
    assert inline["cause"] == {"S": at_limit}
    assert "cause" not in apart and apart["cause_ref"]["M"]["bytes"] == {"N": str(INLINE_LIMIT + 1)}


@pytest.mark.parametrize("kind", ["input", "cause"])
def test_a_large_value_round_trips_exactly_and_the_item_stays_small(kind: str) -> None:
    # Given a recovery whose input (a 256 KB map with unicode) or cause (256 KB of text) is large
    store, dynamodb, s3 = a_store()
    big_input = large_input()
    big_cause = json.dumps({"errorMessage": "Zeitüberschreitung ⏱", "trace": ["x" * 1000] * 256})
    recovery = a_recovery(big_input if kind == "input" else None, big_cause if kind == "cause" else None)

    # When it is stored and read back
    store.create_if_absent(recovery)
    back = store.get(recovery.recovery_id)

    # Then the value comes back exactly, the item holds a reference and stays within a few KB
    assert back == recovery
    item = stored_item(dynamodb, recovery)
    assert kind not in item and item[f"{kind}_ref"]["M"]["key"] == {
        "S": payload_key(recovery.recovery_id, kind)
    }
    assert item_size(item) < 4 * 1024
    assert [put["Key"] for put in s3.puts] == [f"recoveries/{recovery.recovery_id}/{kind}"]


def test_objects_are_asked_to_be_encrypted_and_keyed_by_the_recovery_id_only() -> None:
    # Given a recovery whose input and cause are both large
    store, _, s3 = a_store()
    recovery = a_recovery(large_input(8 * 1024), cause="c" * 8 * 1024)

    # When it is stored
    store.create_if_absent(recovery)

    # Then each object is encrypted at rest, under a key of the recovery's hashed id
    assert {put["ServerSideEncryption"] for put in s3.puts} == {"AES256"}
    assert sorted(put["Key"] for put in s3.puts) == [
        f"recoveries/{recovery.recovery_id}/cause",
        f"recoveries/{recovery.recovery_id}/input",
    ]


def test_a_claim_answers_with_the_whole_recovery() -> None:
    # Given an open recovery whose input is kept apart
    store, _, _ = a_store()
    recovery = a_recovery(large_input(64 * 1024))
    store.create_if_absent(recovery)
    now = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    entry = AuditEntry(now.isoformat(), "U1", "run again", RecoveryStatus.RESUMING)

    # When it is claimed
    claimed = store.claim(
        recovery.recovery_id, entry, owner="claim-1", until=now + timedelta(minutes=5), at=now
    )

    # Then the claim's answer carries the input Run again sends
    assert claimed is not None and claimed.input == recovery.input


def test_a_listing_reads_no_object() -> None:
    # Given open recoveries whose inputs are kept apart
    store, _, s3 = a_store()
    for n in range(3):
        store.create_if_absent(a_recovery(large_input(16 * 1024), token=f"{TOKEN}-{n}"))

    # When they are listed
    listed = store.list_by_status(RecoveryStatus.OPEN)

    # Then the list was served from the table alone, without the inputs
    assert len(listed) == 3 and s3.gets == []
    assert {r.input for r in listed} == {None}


# ---------------------------------------------------------------------- failures
def test_a_failed_upload_raises_and_writes_no_item() -> None:
    # Given an object store that refuses the next upload
    s3 = FakeS3()
    s3.fail_puts = 1
    store, dynamodb, _ = a_store(s3)
    recovery = a_recovery(large_input(16 * 1024))

    # When the recovery is stored
    with pytest.raises(PayloadUnavailableError):
        store.create_if_absent(recovery)

    # Then neither the item nor the object exists: a redelivery starts again from nothing
    assert dynamodb.items(TABLE) == {} and s3.objects == {}
    assert store.create_if_absent(recovery) and store.get(recovery.recovery_id) == recovery


def test_a_failed_second_upload_writes_no_item() -> None:
    # Given a recovery whose input and cause are both large, and a store that refuses the second upload
    s3 = FakeS3()
    store, dynamodb, _ = a_store(s3)
    recovery = a_recovery(large_input(16 * 1024), cause="c" * 16 * 1024)
    payloads = S3Payloads(BUCKET, lambda: s3)
    original = payloads.put
    calls: list[str] = []

    def second_fails(key: str, body: bytes) -> None:
        calls.append(key)
        if len(calls) == 2:
            raise PayloadUnavailableError(key)
        original(key, body)

    payloads.put = second_fails  # type: ignore[method-assign]
    store = RecoveryStore(TABLE, dynamodb, payloads=payloads)

    # When it is stored
    with pytest.raises(PayloadUnavailableError):
        store.create_if_absent(recovery)

    # Then no item points at the object that is missing
    assert dynamodb.items(TABLE) == {} and len(calls) == 2


def test_an_altered_object_raises_instead_of_resuming_with_it() -> None:
    # Given a stored recovery whose object was changed behind its item's back
    store, _, s3 = a_store()
    recovery = a_recovery(large_input(16 * 1024))
    store.create_if_absent(recovery)
    key = (BUCKET, payload_key(recovery.recovery_id, "input"))
    altered = s3.objects[key].replace(b'"qty":1,', b'"qty":9,', 1)
    assert altered != s3.objects[key]
    s3.objects[key] = altered

    # When it is read, Then the read refuses it
    with pytest.raises(PayloadTamperedError):
        store.get(recovery.recovery_id)


def test_a_missing_object_raises_instead_of_a_recovery_without_its_input() -> None:
    # Given a stored recovery whose object is gone
    store, _, s3 = a_store()
    recovery = a_recovery(large_input(16 * 1024))
    store.create_if_absent(recovery)
    s3.objects.clear()

    # When it is read, Then it is an error that names the recovery
    with pytest.raises(PayloadMissingError, match=recovery.recovery_id):
        store.get(recovery.recovery_id)


def test_a_store_without_payloads_refuses_an_item_with_a_reference() -> None:
    # Given an item written with its input kept apart, read by a store configured without payloads
    store, dynamodb, _ = a_store()
    recovery = a_recovery(large_input(16 * 1024))
    store.create_if_absent(recovery)
    unconfigured = RecoveryStore(TABLE, dynamodb)

    # When it is read, Then the error names the setting, not a recovery without input
    with pytest.raises(PayloadMissingError, match="PAYLOADS_BUCKET"):
        unconfigured.get(recovery.recovery_id)


def test_without_payloads_everything_stays_inline() -> None:
    # Given a store as every existing caller builds it
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    recovery = a_recovery(large_input(64 * 1024))

    # When a large recovery is stored, Then it is in the item, as before
    store.create_if_absent(recovery)
    assert "input" in stored_item(dynamodb, recovery) and store.get(recovery.recovery_id) == recovery


# ---------------------------------------------------------------------- the task token
def slices(token: str, width: int = 16) -> set[str]:
    return {token[i : i + width] for i in range(len(token) - width + 1)}


@pytest.mark.parametrize(
    "step_input, cause",
    [
        (lambda: large_input(), lambda: "x" * 64 * 1024),
        # a step that passed its own token along in its input, a cause that quotes it
        (
            lambda: {**large_input(32 * 1024), "taskToken": TOKEN},
            lambda: f"token {TOKEN} refused " + "y" * 8192,
        ),
        (lambda: {**large_input(32 * 1024), "cut": TOKEN[:40]}, lambda: "z" * 8192 + TOKEN[-40:]),
    ],
    ids=["large", "token-inside", "token-cut"],
)
def test_no_slice_of_the_task_token_reaches_the_object_store(step_input: Any, cause: Any) -> None:
    # Given large recoveries, some whose values carry their own task token or one end of it
    store, dynamodb, s3 = a_store()
    recovery = a_recovery(step_input(), cause())

    # When it is stored
    store.create_if_absent(recovery)

    # Then no object and no key holds any slice of the token; what holds it stayed in the table
    stored = b"".join(s3.objects.values()).decode() + "".join(key for _, key in s3.objects)
    assert not any(piece in stored for piece in slices(TOKEN))
    assert store.get(recovery.recovery_id) == recovery
    assert stored_item(dynamodb, recovery)["task_token"] == {"S": TOKEN}


# ---------------------------------------------------------------------- the functions alone
def test_kept_apart_and_brought_back_are_inverse_on_the_item() -> None:
    # Given a recovery's item with a large input holding every JSON type
    s3 = FakeS3()
    payloads = S3Payloads(BUCKET, lambda: s3)
    item = table_items.recovery_item(a_recovery(large_input(32 * 1024), cause="é" * 5000))

    # When it is kept apart and brought back
    back = brought_back(kept_apart(item, payloads), payloads)

    # Then the recovery it holds is the one it held
    assert table_items.recovery_from_item(back) == table_items.recovery_from_item(item)
    assert kept_apart(item, None) is item
