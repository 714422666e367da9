"""``wait_for_recovery`` (service/durable/) inside AWS's local durable-function runner, with the
recovery queue in moto: the contract's durable shape lands on the queue once, the person's answer
comes back as ``RunAgain``, ``RecoveryRejected`` or ``RecoveryTimedOut``, and the callback id is
nowhere but in the message."""

from __future__ import annotations

import json
import logging
import pickle
import re
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from recovery_ops.service.durable import (
    RecoveryRejected,
    RecoveryRequestError,
    RecoveryTimedOut,
    wait_for_recovery,
)
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model import contract
from tests.unit.durable.runs import ACCOUNT, FUNCTION, FUNCTION_ARN, Queue, reject, result

#: the local runner's own logs stand for Lambda's service, which holds the callback id by design
SERVICE_LOGGER = "aws_durable_execution_sdk_python_testing"
ITEM = {"order_id": "o-1", "product_id": "sku-lamp", "quantity": 2}


def item_check(queue: Queue, **options: Any) -> Callable[..., Any]:
    """A durable function whose step failed: it asks for a recovery and returns what it was told."""

    @durable_execution
    def handler(event: dict, context: DurableContext) -> dict:
        try:
            decision = wait_for_recovery(
                context,
                name="Check availability",
                error=TimeoutError("vendor did not answer within 3s"),
                input=event,
                dependency="vendor",
                queue_url=queue.url,
                sqs=queue.sqs,
                **options,
            )
        except RecoveryRejected as exc:
            return {"rejected": exc.cause, "text": f"{exc} {exc!r} {exc.args}"}
        except RecoveryTimedOut as exc:
            return {"timed_out": exc.timeout_seconds, "text": f"{exc} {exc!r} {exc.args}"}
        return {"input": decision.input, "edited": decision.edited}

    return handler


def paused(runner: DurableFunctionTestRunner) -> tuple[str, str]:
    """Start the function with the item; (its durable execution ARN, the callback id it waits on)."""
    arn = runner.run_async(input=json.dumps(ITEM), function_name=FUNCTION, account_id=ACCOUNT)
    return arn, runner.wait_for_callback(arn, timeout=10)


# ------------------------------------------------------------------ the message on the recovery queue
def test_the_contract_lands_on_the_recovery_queue_once_with_every_field(
    queue: Queue, runner_of: Callable[..., DurableFunctionTestRunner]
) -> None:
    # Given a durable function whose step failed, paused on its recovery
    runner = runner_of(item_check(queue))
    arn, callback_id = paused(runner)

    # When the recovery queue is read
    messages = queue.received()

    # Then one message carries the durable shape: the callback, the execution, the function, the step
    assert len(messages) == 1
    message = messages[0]
    requested_at = datetime.fromisoformat(message.pop("requested_at"))
    assert requested_at.tzinfo is not None
    assert message == {
        "contract_version": 1,
        "kind": "durable-callback",
        "callback_id": callback_id,
        "durable_execution_arn": arn,
        "function_arn": FUNCTION_ARN,
        "step": "Check availability",
        "input": ITEM,
        "error": "TimeoutError",
        "cause": "vendor did not answer within 3s",
        "routing": "technical",
        "dependency": "vendor",
    }
    runner.send_callback_success(callback_id, json.dumps(ITEM).encode())
    assert result(runner, arn) == {"input": ITEM, "edited": False}
    assert queue.messages() == []  # the replay after the answer sent nothing again


def test_the_message_is_a_recovery_request_of_the_contract(
    queue: Queue, runner_of: Callable[..., DurableFunctionTestRunner]
) -> None:
    # The contract's parser of both kinds (service/recovery/model/contract.py) is being added beside
    # this helper: until it is there, the test above holds the fields; then this one holds the shape.
    parse_contract = getattr(contract, "parse_contract", None)
    if parse_contract is None:
        pytest.skip("the contract has no parse_contract (the durable shape) yet")

    # Given the message a paused durable function sent
    runner = runner_of(item_check(queue, routing="client-data"))
    arn, callback_id = paused(runner)
    [message] = queue.received()

    # When the contract's parser reads it
    request = parse_contract(json.dumps(message))

    # Then it is the durable kind's recovery request: the callback where a task token is, the function
    # where a state machine is, the step where a failed state is
    assert request.kind == "durable-callback"
    assert request.task_token == callback_id
    assert request.recovery_id == "rec-" + contract.hashlib.sha256(callback_id.encode()).hexdigest()[:32]
    assert (request.execution_arn, request.state_machine_arn) == (arn, FUNCTION_ARN)
    assert (request.state_machine_name, request.failed_state) == (FUNCTION, "Check availability")
    assert (request.error, request.cause) == ("TimeoutError", "vendor did not answer within 3s")
    assert (request.input, request.routing, request.dependency) == (ITEM, "client-data", "vendor")


# ------------------------------------------------------------------ the person's decision
@pytest.mark.parametrize(
    ("answer", "edited"),
    [({**ITEM, "product_id": "sku-lamp-2"}, True), (ITEM, False)],
    ids=["edited", "as-is"],
)
def test_run_again_returns_the_input_the_desk_resumed_with(
    queue: Queue, runner_of: Callable[..., DurableFunctionTestRunner], answer: dict, edited: bool
) -> None:
    # Given a paused durable function
    runner = runner_of(item_check(queue))
    arn, callback_id = paused(runner)

    # When the desk runs it again with an input (as JSON, as SendDurableExecutionCallbackSuccess does)
    runner.send_callback_success(callback_id, json.dumps(answer).encode())

    # Then the helper returns that input, and says whether it is the one it sent
    assert result(runner, arn) == {"input": answer, "edited": edited}


def test_a_reject_raises_recovery_rejected_with_the_persons_cause(
    queue: Queue, runner_of: Callable[..., DurableFunctionTestRunner]
) -> None:
    # Given a paused durable function
    runner = runner_of(item_check(queue))
    arn, callback_id = paused(runner)

    # When a person rejects it
    reject(runner, callback_id, "Rejected by ann: the product is discontinued")

    # Then the handler catches RecoveryRejected, carrying the person's cause
    outcome = result(runner, arn)
    assert outcome["rejected"] == "Rejected by ann: the product is discontinued"
    assert issubclass(RecoveryRejected, RecoveryOpsError)


def test_an_unanswered_recovery_raises_recovery_timed_out(
    queue: Queue, runner_of: Callable[..., DurableFunctionTestRunner]
) -> None:
    # Given a durable function paused on a recovery of a one-second timeout
    runner = runner_of(item_check(queue, timeout=Duration.from_seconds(1)))
    arn = runner.run_async(input=json.dumps(ITEM), function_name=FUNCTION, account_id=ACCOUNT)

    # When nobody answers
    outcome = result(runner, arn)

    # Then the handler catches RecoveryTimedOut, and the step was asked for once
    assert outcome["timed_out"] == 1
    assert issubclass(RecoveryTimedOut, RecoveryOpsError)
    assert len(queue.messages()) == 1


def test_a_rejected_recovery_the_handler_lets_through_fails_the_execution_by_its_name(
    queue: Queue, runner_of: Callable[..., DurableFunctionTestRunner]
) -> None:
    # Given a durable function that does not catch the rejection
    @durable_execution
    def handler(event: dict, context: DurableContext) -> dict:
        decision = wait_for_recovery(
            context, name="Charge card", error="CardDeclined", input=event, queue_url=queue.url, sqs=queue.sqs
        )
        return {"charged": decision.input}

    runner = runner_of(handler)
    arn, callback_id = paused(runner)

    # When a person rejects it
    reject(runner, callback_id, "Rejected by ann: card blocked")
    outcome = runner.wait_for_result(arn, timeout=10)

    # Then the execution fails with RecoveryRejected and the cause, never the callback id
    assert outcome.error is not None
    assert outcome.error.type is not None and outcome.error.type.endswith("RecoveryRejected")
    assert "card blocked" in (outcome.error.message or "")
    assert callback_id not in json.dumps(outcome.error.to_dict())


# ------------------------------------------------------------------ the callback id stays a secret
@pytest.mark.parametrize("answer", ["reject", "timeout"])
def test_the_callback_id_is_in_no_log_record_and_no_exception_text(
    queue: Queue,
    runner_of: Callable[..., DurableFunctionTestRunner],
    caplog: pytest.LogCaptureFixture,
    answer: str,
) -> None:
    # Given every log record of the function, the helper and the SDK, at every level
    caplog.set_level(logging.DEBUG)
    options = {"timeout": Duration.from_seconds(1)} if answer == "timeout" else {}
    runner = runner_of(item_check(queue, **options))

    # When the function pauses, and its recovery is rejected or times out
    arn, callback_id = paused(runner)
    if answer == "reject":
        reject(runner, callback_id, "Rejected by ann: wrong product")
    outcome = result(runner, arn)

    # Then the helper logged the request, and neither a record nor the exception's text has the id
    records = [r for r in caplog.records if not r.name.startswith(SERVICE_LOGGER)]
    assert any(r.getMessage() == "recovery requested" for r in records)
    assert [r for r in records if callback_id in f"{r.getMessage()} {r.__dict__}"] == []
    assert outcome["text"] and callback_id not in outcome["text"]


# ------------------------------------------------------------------ refused before anything is sent
def context_of(durable_execution_arn: str = "exec-1/inv-1", function_arn: str | None = FUNCTION_ARN) -> Any:
    """A stand-in for the durable context: what the helper reads before it creates the callback."""

    def wait_for_callback(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the callback was created for a request that should have been refused")

    return SimpleNamespace(
        state=SimpleNamespace(durable_execution_arn=durable_execution_arn),
        lambda_context=SimpleNamespace(invoked_function_arn=function_arn),
        wait_for_callback=wait_for_callback,
    )


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"name": ""}, "name must be 1 to 256 characters"),
        ({"name": "s" * 257}, "name must be 1 to 256 characters"),
        ({"input": {"when": datetime(2026, 1, 1)}}, "input must be JSON-serialisable"),
        ({"input": float("nan")}, "input must be JSON-serialisable"),
        ({"routing": "billing"}, "routing must be one of technical, client-data"),
        ({"error": {"Cause": "no name"}}, 'error["Error"] must be a string'),
        ({"error": 42}, "error must be an exception, a name or"),
        ({"dependency": ""}, "dependency must be 1 to 256 characters"),
        ({"input": {"blob": "x" * 300_000}}, "the recovery queue takes at most 262,144 (256 KiB)"),
        ({"queue_url": None}, "no recovery queue: pass queue_url= or set RECOVERY_QUEUE_URL"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_request_the_contract_cannot_carry_is_refused_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch, arguments: dict[str, Any], says: str
) -> None:
    # Given a request with one argument the contract cannot carry (and no queue variable set)
    monkeypatch.delenv("RECOVERY_QUEUE_URL", raising=False)
    sent: list[Any] = []
    sqs = SimpleNamespace(send_message=lambda **kwargs: sent.append(kwargs))
    given = {
        "name": "Charge card",
        "error": "CardDeclined",
        "input": ITEM,
        "queue_url": "https://q",
        **arguments,
    }

    # When the helper is called, Then it says what is wrong, and nothing is created or sent
    with pytest.raises(RecoveryRequestError, match=re.escape(says)):
        wait_for_recovery(context_of(), sqs=sqs, **given)  # type: ignore[arg-type]
    assert sent == []


def test_a_large_input_is_refused_with_where_the_docs_say_how_to_pass_it() -> None:
    with pytest.raises(RecoveryRequestError) as refused:
        wait_for_recovery(
            context_of(), name="Charge card", error="CardDeclined", input="x" * 300_000, queue_url="https://q"
        )
    assert "by reference" in str(refused.value)
    assert "docs/integrate/durable-functions.md#large-inputs" in str(refused.value)


def test_the_queue_and_the_client_default_to_the_functions_variable_and_boto3(
    queue: Queue, runner_of: Callable[..., DurableFunctionTestRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function configured only by RECOVERY_QUEUE_URL
    monkeypatch.setenv("RECOVERY_QUEUE_URL", queue.url)

    @durable_execution
    def handler(event: dict, context: DurableContext) -> dict:
        decision = wait_for_recovery(context, name="Charge card", error="CardDeclined", input=event)
        return {"input": decision.input}

    runner = runner_of(handler)

    # When it pauses, Then its request is on that queue
    arn, callback_id = paused(runner)
    [message] = queue.received()
    assert (message["callback_id"], message["step"]) == (callback_id, "Charge card")
    runner.send_callback_success(callback_id, json.dumps(ITEM).encode())
    assert result(runner, arn) == {"input": ITEM}


# ------------------------------------------------------------------ the error's forms
@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [
        (ValueError("bad sku"), None, ("ValueError", "bad sku")),
        (ValueError("bad sku"), "told otherwise", ("ValueError", "told otherwise")),
        ("VendorUnavailable", None, ("VendorUnavailable", None)),
        ("VendorUnavailable", "HTTP 503", ("VendorUnavailable", "HTTP 503")),
        (
            StepError("vendor down", error_type="orders.supplier.errors.VendorUnavailable"),
            None,
            ("VendorUnavailable", "vendor down"),
        ),
        ({"Error": "States.TaskFailed", "Cause": "boom"}, None, ("States.TaskFailed", "boom")),
        ({"Error": "States.TaskFailed", "Cause": "boom"}, "mine", ("States.TaskFailed", "mine")),
    ],
    ids=[
        "exception",
        "exception-cause",
        "name",
        "name-cause",
        "failed-step",
        "catch-object",
        "catch-object-cause",
    ],
)
def test_the_error_is_sent_as_its_name_and_cause(error: Any, cause: str | None, expected: tuple) -> None:
    # Given a request with the error in one of its forms
    sent: list[dict[str, Any]] = []
    context = context_of()
    sqs = SimpleNamespace(send_message=lambda **kwargs: sent.append(json.loads(kwargs["MessageBody"])))
    context.wait_for_callback = lambda submit, name, config: submit("Y2FsbGJhY2s=", None) or json.dumps(ITEM)

    # When it is sent
    wait_for_recovery(
        context, name="Check", error=error, cause=cause, input=ITEM, queue_url="https://q", sqs=sqs
    )

    # Then the message carries the error's name and the cause
    assert (sent[0]["error"], sent[0]["cause"]) == expected


@pytest.mark.parametrize(
    "error",
    [RecoveryRejected("Charge card", "Rejected by ann: card stolen"), RecoveryTimedOut("Charge card", 60)],
)
def test_the_decision_errors_copy_and_pickle_with_their_fields(error: Exception) -> None:
    # Given / When an error copied as a worker or a retry library copies it
    copied = pickle.loads(pickle.dumps(error))

    # Then it is the same error, its fields kept
    assert (type(copied), str(copied), vars(copied)) == (type(error), str(error), vars(error))
