"""What Lambda's DynamoDB stream event source does, done locally: changes of a table → a function.

moto keeps a stream for a table but its DynamoDB Streams API does not answer this botocore
(DescribeStream: "Not yet implemented"), so the local poller derives the stream itself: it scans
the (small) table, compares each item with the image it saw last, and hands the changes to the
function as MODIFY / INSERT records with old and new images (``NEW_AND_OLD_IMAGES``), through
moto's Lambda. It starts from the table as it is (the template's ``StartingPosition: LATEST``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from service.local.stack import REGION, EmbeddedStack


class StreamPoller:
    def __init__(self, stack: EmbeddedStack, table: str, function: str) -> None:
        self._stack = stack
        self._table = stack.physical(table)
        self._function = stack.physical(function)
        self._key = stack.client("dynamodb").describe_table(TableName=self._table)["Table"]["KeySchema"]
        self._images = self._scan()

    def poll(self) -> dict[str, Any] | None:
        """One poll: the changes since the last → one invocation (None when nothing changed)."""
        images = self._scan()
        records = [
            _record(self._table, key, self._images.get(key), image)
            for key, image in images.items()
            if self._images.get(key) != image
        ]
        self._images = images
        if not records:
            return None
        event = {"Records": [{**r, "dynamodb": {**r["dynamodb"], "Keys": self._keys(r)}} for r in records]}
        answer = self._stack.client("lambda").invoke(FunctionName=self._function, Payload=json.dumps(event))
        return json.loads(answer["Payload"].read() or b"{}")

    def _scan(self) -> dict[str, dict[str, Any]]:
        items = self._stack.client("dynamodb").scan(TableName=self._table, ConsistentRead=True)["Items"]
        return {json.dumps(self._keys({"dynamodb": {"NewImage": i}}), sort_keys=True): i for i in items}

    def _keys(self, record: dict[str, Any]) -> dict[str, Any]:
        image = record["dynamodb"]["NewImage"]
        return {k["AttributeName"]: image[k["AttributeName"]] for k in self._key}


def _record(table: str, key: str, old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time()),
        "NewImage": new,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        change["OldImage"] = old
    return {
        "eventID": key,
        "eventName": "MODIFY" if old is not None else "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": change,
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:000000000000:table/{table}/stream/local",
    }
