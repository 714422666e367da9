"""Edited input for "Edit input & run again": parsed, size-checked, schema-checked, diffed.

An edit is refused (and nothing is sent) when it is not JSON, when it is larger than what
Step Functions accepts as a state's input (256 KiB of UTF-8), or when it violates the JSON
Schema configured for the failed state. The audit trail keeps a unified diff of the edit.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError

MAX_INPUT_BYTES = 256 * 1024
DIFF_LIMIT = 8000  # characters kept in the audit (the item must stay far below DynamoDB's 400 KB)

SchemaDocument = dict[str, Any]


class InputProblemError(RecoveryOpsError, ValueError):
    """Why an edited input cannot be sent; shown to the editor as is."""


class SchemaCatalog:
    """JSON Schemas per state machine and state, from a document ``{"machine": {"state": schema}}``.

    ``load`` returns the document (on AWS: an SSM parameter read through Powertools Parameters,
    cached). The machine ``"*"`` applies to every state machine; a state without a schema accepts
    any JSON.
    """

    def __init__(self, load: Callable[[], dict[str, dict[str, SchemaDocument]]]) -> None:
        self._load = load

    def for_state(self, state_machine_name: str, state: str) -> SchemaDocument | None:
        document = self._load() or {}
        for machine in (state_machine_name, "*"):
            schema = (document.get(machine) or {}).get(state)
            if schema is not None:
                return schema
        return None


def parse_edited_input(text: str, schema: SchemaDocument | None = None) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InputProblemError(f"Not valid JSON: {exc}") from exc
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_INPUT_BYTES:
        raise InputProblemError(
            f"The input is {size:,} bytes; Step Functions accepts at most {MAX_INPUT_BYTES:,} (256 KiB)."
        )
    if schema is not None:
        from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

        try:
            validate(event=value, schema=schema)
        except SchemaValidationError as exc:
            message = str(exc.validation_message or exc).replace("data", "input", 1)  # fastjsonschema's root
            raise InputProblemError(f"Does not match the state's input schema: {message}") from exc
    return value


def input_diff(before: Any, after: Any) -> str:
    """A unified diff of the two inputs as sorted, indented JSON ('' when they are the same)."""
    lines = difflib.unified_diff(
        _pretty(before).splitlines(), _pretty(after).splitlines(), "input", "edited", lineterm="", n=1
    )
    diff = "\n".join(lines)
    return diff if len(diff) <= DIFF_LIMIT else diff[:DIFF_LIMIT] + "\n… (diff truncated)"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
