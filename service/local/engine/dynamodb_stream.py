"""What Lambda's DynamoDB event source mapping does, done locally: a table's stream → a function.

The records come from moto's own DynamoDB Streams, read as Lambda's poller reads them
(``describe_stream``, ``get_shard_iterator``, ``get_records``): every INSERT, MODIFY and REMOVE in
order, with the images the table's ``StreamViewType`` names, so changes written back to back
(OPEN → CLOSED → OPEN) reach the function one record each. As on DynamoDB, a write that changes
nothing makes no record (moto records one). The records go to the function through moto's Lambda
in the event shape Lambda sends, in batches of the event source's ``BatchSize``; reading starts
where its ``StartingPosition`` says. The event's ``FilterCriteria`` are not applied (the handler
checks the transitions itself).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from recovery_ops.service.local.engine.cfn_template import function_properties, resolve
from recovery_ops.service.local.engine.stack import EmbeddedStack

#: Sleep between empty reads while waiting for records (a tight loop starves moto's threads).
EMPTY_READ_SECONDS = 0.05


@dataclass(frozen=True)
class StreamEventSource:
    """A function's ``Type: DynamoDB`` event in template.yaml, resolved in the stack."""

    stream_arn: str
    batch_size: int = 100
    starting_position: str = "LATEST"

    @classmethod
    def of(cls, stack: EmbeddedStack, function: str, table: str) -> StreamEventSource:
        events = function_properties(stack.template, function).get("Events", {})
        for event in events.values():
            props = event.get("Properties", {})
            if event.get("Type") == "DynamoDB" and props.get("Stream") == {
                "Fn::GetAtt": [table, "StreamArn"]
            }:
                props = resolve(props, stack.context)
                return cls(props["Stream"], int(props.get("BatchSize", 100)), props["StartingPosition"])
        raise LookupError(f"{function} has no DynamoDB event on {table}'s stream in template.yaml")


@dataclass
class DynamoDBStreamPoller:
    """Reads ``table``'s stream and invokes ``function`` with the new records, as its event source would."""

    stack: EmbeddedStack
    table: str
    function: str
    #: Every event handed to the function so far, in order.
    delivered: list[dict[str, Any]] = field(default_factory=list)
    _source: StreamEventSource = field(init=False)
    _iterators: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._source = StreamEventSource.of(self.stack, self.function, self.table)
        for shard in self._shards():
            self._iterators[shard] = self._iterator(shard, self._source.starting_position)

    def poll(self, wait_seconds: float = 0.0) -> list[dict[str, Any]]:
        """Deliver the records written since the last poll; the function's answers, one per batch.

        With nothing new, reads again every ``EMPTY_READ_SECONDS`` for up to ``wait_seconds``.
        """
        deadline = time.monotonic() + wait_seconds
        records = self._read()
        while not records and time.monotonic() < deadline:
            time.sleep(EMPTY_READ_SECONDS)
            records = self._read()
        size = self._source.batch_size
        return [self._invoke(records[start : start + size]) for start in range(0, len(records), size)]

    def _streams(self) -> Any:
        return self.stack.client("dynamodbstreams")

    def _shards(self) -> list[str]:
        description = self._streams().describe_stream(StreamArn=self._source.stream_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def _iterator(self, shard: str, position: str) -> str:
        return self._streams().get_shard_iterator(
            StreamArn=self._source.stream_arn, ShardId=shard, ShardIteratorType=position
        )["ShardIterator"]

    def _read(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for shard in self._shards():
            if shard not in self._iterators:  # a shard opened since: all of it is new
                self._iterators[shard] = self._iterator(shard, "TRIM_HORIZON")
            page = self._streams().get_records(ShardIterator=self._iterators[shard])
            self._iterators[shard] = page["NextShardIterator"]
            records.extend(self._as_lambda_sends(r) for r in page["Records"] if not _unchanged(r))
        return records

    def _as_lambda_sends(self, record: dict[str, Any]) -> dict[str, Any]:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            **record,
            "eventVersion": "1.1",
            "dynamodb": change,
            "eventSourceARN": self._source.stream_arn,
        }

    def _invoke(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        event = {"Records": records}
        self.delivered.append(event)
        answer = self.stack.client("lambda").invoke(
            FunctionName=self.stack.physical(self.function), Payload=json.dumps(event).encode()
        )
        return json.loads(answer["Payload"].read() or b"{}")


def _unchanged(record: dict[str, Any]) -> bool:
    change = record["dynamodb"]
    return (
        record["eventName"] == "MODIFY"
        and "OldImage" in change
        and change.get("NewImage") == change["OldImage"]
    )
