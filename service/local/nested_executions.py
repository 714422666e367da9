"""Let moto's interpreter run `states:startExecution.sync:2` the way Step Functions does.

moto's interpreter (LocalStack's) passes the task's parameters to a real boto3 client as written in
the ASL (``StateMachineArn``, ``Name``, ``Input``), but boto3's Step Functions operations want
``stateMachineArn``, ``name``, ``input``; and it hands the answers back in boto3's casing, where the
ASL reads ``ExecutionArn`` and ``Output``. This converts both ways for the Step Functions
integration only, so the order workflow's nested item executions start, are waited for, and return
their output as on AWS. Nothing else in the interpreter changes.

While a nested execution runs, the interpreter asks for its status every half second through a
full boto3 call. With hundreds of orders waiting on paused items that polling alone would keep a
core busy, so the status is read from moto's backend first, and the real call is made only once
the nested execution has ended. Being cheap, the check runs every 0.1 s instead of 0.5 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SYNC_CHECK_SECONDS = 0.1


def _first(letter_case: str, key: str) -> str:
    return (key[:1].lower() if letter_case == "lower" else key[:1].upper()) + key[1:]


@contextmanager
def nested_executions_as_on_aws() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback,
        state_task_service_sfn,
    )

    service = state_task_service_sfn.StateTaskServiceSfn
    original_parameters = service._normalise_parameters
    original_response = service._normalise_response

    def parameters_for_boto(self: Any, parameters: dict, *args: Any, **kwargs: Any) -> None:
        original_parameters(self, parameters, *args, **kwargs)  # serialises Input to a string
        for key in list(parameters):
            parameters[_first("lower", key)] = parameters.pop(key)

    def response_for_asl(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        original_response(self, response, *args, **kwargs)
        if isinstance(response, dict):
            for key in list(response):
                value = response.pop(key)
                response[_first("upper", key)] = value.isoformat() if hasattr(value, "isoformat") else value

    original_sync2 = service._build_sync2_resolver

    def sync2_resolver(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        execution_arn = env.stack[-1]["ExecutionArn"]  # the StartExecution answer the original pops
        resolve = original_sync2(self, env, *args, **kwargs)
        execution = _backend_execution(execution_arn)

        def resolve_once_ended() -> Any:
            if execution is not None and execution.status == "RUNNING":
                return None
            return resolve()

        return resolve_once_ended

    service._normalise_parameters = parameters_for_boto
    service._normalise_response = response_for_asl
    service._build_sync2_resolver = sync2_resolver
    original_delay = state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK
    state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = SYNC_CHECK_SECONDS
    try:
        yield
    finally:
        service._normalise_parameters = original_parameters
        service._normalise_response = original_response
        service._build_sync2_resolver = original_sync2
        state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = original_delay


def _backend_execution(execution_arn: str) -> Any:
    """moto's own record of an execution (its ``status`` changes in place), or None."""
    from moto.stepfunctions.models import stepfunctions_backends

    _, _, _, region, account, *_ = execution_arn.split(":")
    try:
        return stepfunctions_backends[account][region].describe_execution(execution_arn)
    except Exception:  # noqa: BLE001 - unknown to the backend: the real call will say why
        return None
