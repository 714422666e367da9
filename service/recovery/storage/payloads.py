"""A recovery's large values kept apart from its item: one S3 object per recovery and kind.

A recovery item used to hold the paused step's input (up to 256 KB, Step Functions' payload limit)
and its cause whole: items reached 257 KB, near DynamoDB's 400 KB limit, and every write of the
item (a claim, an audit entry, a reminder) billed all of it, one write unit per KB. Here a value of
``KEPT_APART`` (``input``, ``cause``) whose JSON text is over ``INLINE_LIMIT`` is written as one
object, ``recoveries/<recovery id>/<kind>`` (a recovery id is a hash of the task token: no text of
anyone's in a key), and the item holds ``<kind>_ref`` = ``{key, bytes, sha256}`` instead; the
inline attribute is absent.

- ``kept_apart(item, payloads)``: before the item is put. It uploads first, so an item never points
  at an object that is not there; an upload whose item is never written is an orphan the bucket's
  lifecycle rule deletes.
- ``brought_back(item, payloads)``: after a read that an action or a person needs whole (the store's
  ``get``, a claim's answer). It checks each object's size and SHA-256 and raises
  ``PayloadMissingError`` / ``PayloadTamperedError`` rather than hand back a recovery without its
  input. Listings never call it: they show no input.

Both work on DynamoDB's low-level item (``{"input": {"M": ...}}``, as ``items.recovery_item`` writes
it) so the store wraps its put and reads in one call each. ``payloads`` None: everything inline, as
before; an item with a reference then raises, naming the missing setting.

The task token never goes to S3: it is an attribute of its own, and a value that contains it (a step
that passed its own token in its input, a cause that quotes it) stays inline, in the one table where
the token may be.

Objects are encrypted at rest (SSE-S3: the bucket's default, and asked for on each upload) and
expire by the bucket's lifecycle rule (template.yaml, ``PayloadsBucket``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.storage.items import KEY, dynamodb_value, json_value

#: A value whose JSON text is larger than this (UTF-8 bytes) is kept apart. 4 KB: a recovery item's
#: other attributes (ids, ARNs, status, lease, a few audit entries) come to 1-3 KB, so an item stays
#: within a few KB, one read unit (4 KB) and a few write units a write, however large the step's
#: input; the inputs most steps send (an order, a request: well under 4 KB) stay inline and cost no
#: S3 call to show or resume.
INLINE_LIMIT = 4 * 1024

#: the attributes that may be kept apart
KEPT_APART = ("input", "cause")
REF_SUFFIX = "_ref"
KEY_PREFIX = "recoveries/"
TOKEN_ATTRIBUTE = "task_token"
#: how much of either end of a task token is looked for in a value (a token cut short keeps one end)
TOKEN_END = 32

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class PayloadError(RecoveryOpsError):
    """A value kept apart could not be written or read back."""


class PayloadMissingError(PayloadError, LookupError):
    """An item refers to an object that is not there (or no payload store is configured)."""


class PayloadTamperedError(PayloadError, ValueError):
    """An object's size or SHA-256 is not what its item recorded."""


class PayloadUnavailableError(PayloadError, RuntimeError):
    """The object store refused or did not answer (the call may be retried)."""


class Payloads(Protocol):
    """Where values kept apart live: one object per key."""

    def put(self, key: str, body: bytes) -> None: ...

    def get(self, key: str) -> bytes | None:
        """The object's bytes; None when there is no such object."""
        ...


class S3Payloads:
    """``Payloads`` on an S3 bucket. The client is asked for on the first object only, so a
    function whose values all stay inline never builds one."""

    def __init__(self, bucket: str, client: Callable[[], Any]) -> None:
        self._bucket = bucket
        self._client = client

    @property
    def bucket(self) -> str:
        return self._bucket

    def put(self, key: str, body: bytes) -> None:
        try:
            self._client().put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ServerSideEncryption="AES256",
            )
        except (ClientError, BotoCoreError) as exc:
            raise PayloadUnavailableError(f"could not store {key}") from exc

    def get(self, key: str) -> bytes | None:
        try:
            answer = self._client().get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise PayloadUnavailableError(f"could not read {key}") from exc
        except BotoCoreError as exc:
            raise PayloadUnavailableError(f"could not read {key}") from exc
        body: bytes = answer["Body"].read()
        return body


def payload_key(recovery_id: str, kind: str) -> str:
    """Where a recovery's value of ``kind`` is kept: its id is a hash, so the key holds nobody's text."""
    return f"{KEY_PREFIX}{recovery_id}/{kind}"


def kept_apart(item: dict[str, Any], payloads: Payloads | None, limit: int = INLINE_LIMIT) -> dict[str, Any]:
    """``item`` with each value of ``KEPT_APART`` over ``limit`` uploaded and replaced by its reference
    (call it before the item is written: a failed upload raises and nothing is written)."""
    if payloads is None:
        return item
    kept = dict(item)
    token = item.get(TOKEN_ATTRIBUTE, {}).get("S", "")
    for kind in KEPT_APART:
        if kind not in item:
            continue
        body = _json_text(item[kind])
        if len(body) <= limit or _holds_token(body, token):
            continue
        key = payload_key(item[KEY]["S"], kind)
        payloads.put(key, body)
        del kept[kind]
        kept[kind + REF_SUFFIX] = _reference(key, body)
    return kept


def brought_back(item: dict[str, Any], payloads: Payloads | None) -> dict[str, Any]:
    """``item`` with each value kept apart read back in place of its reference, checked."""
    kinds = [kind for kind in KEPT_APART if kind + REF_SUFFIX in item]
    if not kinds:
        return item
    if payloads is None:
        raise PayloadMissingError(
            f"{item[KEY]['S']}: its {', '.join(kinds)} is kept apart and no payload store is configured "
            "(PAYLOADS_BUCKET)"
        )
    whole = dict(item)
    for kind in kinds:
        whole[kind] = _serializer.serialize(dynamodb_value(json.loads(_fetched(item, kind, payloads))))
        del whole[kind + REF_SUFFIX]
    return whole


# ---------------------------------------------------------------------- helpers
def _json_text(value: Any) -> bytes:
    """An attribute's value as the JSON text the step sent (UTF-8, compact): what is measured and kept."""
    plain = json_value(_deserializer.deserialize(value))
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode()


def _holds_token(body: bytes, token: str) -> bool:
    if not token:
        return False
    ends = {token, token[:TOKEN_END], token[-TOKEN_END:]}
    return any(end.encode() in body for end in ends)


def _reference(key: str, body: bytes) -> dict[str, Any]:
    return {
        "M": {
            "key": {"S": key},
            "bytes": {"N": str(len(body))},
            "sha256": {"S": hashlib.sha256(body).hexdigest()},
        }
    }


def _fetched(item: dict[str, Any], kind: str, payloads: Payloads) -> bytes:
    ref = item[kind + REF_SUFFIX]["M"]
    key, size, digest = ref["key"]["S"], int(ref["bytes"]["N"]), ref["sha256"]["S"]
    body = payloads.get(key)
    if body is None:
        raise PayloadMissingError(f"{item[KEY]['S']}: its {kind} ({key}) is not in the object store")
    if len(body) != size or hashlib.sha256(body).hexdigest() != digest:
        raise PayloadTamperedError(f"{item[KEY]['S']}: its {kind} ({key}) is not what was stored")
    return body
