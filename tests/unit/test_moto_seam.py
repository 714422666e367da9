"""The seam to moto's internals: checked against the installed packages before any patch."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest

from recovery_ops.service.local.engine import moto_seam
from recovery_ops.service.local.engine.moto_seam import MotoSeamMismatchError, SeamTarget


def test_the_installed_moto_has_every_internal_the_seam_patches() -> None:
    # Given the moto this project installs
    # When every declared target is checked
    moto_seam.check(moto_seam.TARGETS)
    # Then nothing is reported (no exception)


def test_every_patched_internal_is_declared_once() -> None:
    assert len(set(moto_seam.TARGETS)) == len(moto_seam.TARGETS)
    assert moto_seam.LAMBDA_INVOKE in moto_seam.TARGETS and moto_seam.RETRY_TIME in moto_seam.TARGETS
    assert moto_seam.JSONATA_EVALUATOR in moto_seam.TARGETS
    assert set(moto_seam.JSONATA_VARIABLE_ENCODERS) <= set(moto_seam.TARGETS)


def test_a_missing_internal_fails_at_once_naming_moto_the_target_and_the_remedy() -> None:
    # Given a target naming an attribute moto does not have
    missing = SeamTarget("moto.awslambda_simple.models", "LambdaSimpleBackend.invoke_in_process", ("self",))

    # When the seam is checked
    with pytest.raises(MotoSeamMismatchError) as failure:
        moto_seam.check([moto_seam.LAMBDA_INVOKE, missing])

    # Then one error names the moto installed, the target, what was found and what to do
    message = str(failure.value)
    assert "written against moto 5.2.x" in message
    assert f"moto {version('moto')}" in message
    assert "moto.awslambda_simple.models:LambdaSimpleBackend.invoke_in_process" in message
    assert "has no attribute invoke_in_process" in message
    assert "service/local/engine/moto_seam.py" in message and "pyproject.toml" in message
    assert "LambdaSimpleBackend.invoke:" not in message  # the real target passes


def test_a_missing_module_is_reported_as_such() -> None:
    gone = SeamTarget("moto.stepfunctions.parser.gone", "parse")
    with pytest.raises(MotoSeamMismatchError, match=r"module moto\.stepfunctions\.parser\.gone cannot be"):
        moto_seam.check([gone])


def test_a_changed_signature_fails_with_what_was_expected_and_what_was_found() -> None:
    # Given a target written against other parameters than the installed method has
    changed = SeamTarget(
        moto_seam.WAIT_INTERVAL.module, moto_seam.WAIT_INTERVAL.attribute, ("self", "env", "seconds")
    )

    # When the seam is checked
    with pytest.raises(MotoSeamMismatchError) as failure:
        moto_seam.check([changed])

    # Then the error shows both parameter lists
    message = str(failure.value)
    assert "wait_function:WaitFunction._wait_interval" in message
    expected = r"expected parameters \(self, env, seconds\), found \(self, env, wait_seconds\)"
    assert re.search(expected, message)


def test_every_problem_is_reported_in_one_error() -> None:
    broken = [
        SeamTarget("moto.core.responses", "no_such_function"),
        SeamTarget(moto_seam.TASK_ERROR.module, moto_seam.TASK_ERROR.attribute, ("self", "ex")),
    ]
    with pytest.raises(MotoSeamMismatchError) as failure:
        moto_seam.check(broken)
    assert str(failure.value).count("\n  - ") == 2


def test_a_patch_is_undone_on_the_way_out_even_for_an_inherited_member() -> None:
    # Given a method the Step Functions task inherits (not defined on the class itself)
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn

    service = state_task_service_sfn.StateTaskServiceSfn
    inherited = service._normalise_response
    assert "_normalise_response" not in vars(service)

    # When the nested-execution patches are installed and removed
    with moto_seam.nested_executions_as_on_aws():
        assert service._normalise_response is not inherited

    # Then the class inherits it again
    assert "_normalise_response" not in vars(service)
    assert service._normalise_response is inherited


# ---------------------------------------------------------------- JSONata
def _moto_evaluates(expression: str, variables: dict[str, object]) -> object:
    """What moto's interpreter does with a JSONata field: write its variable store into the
    expression, hand the whole to the engine."""
    from moto.stepfunctions.parser.asl.eval.variable_store import VariableStore
    from moto.stepfunctions.parser.asl.jsonata import jsonata

    store = VariableStore()
    for name, value in variables.items():
        store.set(name, value)
    composed = jsonata.compose_jsonata_expression(expression, [store.get_variable_declarations()])
    return jsonata.eval_jsonata_expression(composed)


def test_without_the_engine_moto_cannot_evaluate_jsonata() -> None:
    # Given moto as installed (no engine plugged in)
    # When / Then
    with pytest.raises(TypeError):
        _moto_evaluates("1 + 1", {})


def test_with_the_engine_moto_evaluates_jsonata_with_its_variables_and_unplugs_it_after() -> None:
    from moto.stepfunctions.parser.asl.jsonata import jsonata

    # Given variables of every JSON type
    variables = {"order": {"id": "o-1", "items": [1, 2.5]}, "count": 3, "paid": True, "note": None}

    # When moto evaluates an expression using them, with the engine plugged in
    with moto_seam.jsonata_engine():
        value = _moto_evaluates(
            "{'id': $order.id, 'total': $sum($order.items) * $count, 'paid': $paid}", variables
        )

    # Then the value is plain JSON, and afterwards moto is as it was
    assert value == {"id": "o-1", "total": 10.5, "paid": True}
    assert jsonata._eval_jsonata is None
    assert jsonata.encode_jsonata_variable_declarations is moto_seam._get(
        moto_seam.JSONATA_VARIABLE_ENCODERS[0]
    )


@pytest.mark.parametrize(
    "text",
    ['he said "hi"', "C:\\orders\\", "two\nlines", "caf\u00e9 \U0001f600", "{% $states.input %}"],
    ids=["quotes", "backslashes", "newline", "non-ascii", "jsonata-like"],
)
def test_a_string_variable_reaches_the_expression_exactly_as_it_was_assigned(text: str) -> None:
    # Given a variable holding text that moto would write between quotes as it is
    # When an expression reads it back through moto's interpreter
    with moto_seam.jsonata_engine():
        value = _moto_evaluates("[$text, $length($text)]", {"text": text})

    # Then it is the same text, whole characters included
    assert value == [text, len(text)]
    assert type(value) is list


def test_a_failing_expression_raises_what_moto_expects_of_its_engine() -> None:
    from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException

    # Given / When / Then
    with moto_seam.jsonata_engine(), pytest.raises(JSONataException) as failed:
        _moto_evaluates("$name + 1", {"name": "Ada"})
    assert "must evaluate to a number" in str(failed.value.details)


def test_a_cancelled_transaction_in_moto_leaves_every_item_as_it_was() -> None:
    # Given the recoveries table in moto, its transactions backed up by item, and one recovery
    import boto3
    from moto import mock_aws

    from recovery_ops.service.local.engine import moto_seam
    from recovery_ops.service.local.engine.cfn_template import load_template
    from recovery_ops.service.recovery.model.recovery import RecoveryStatus
    from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
    from tests.support.recoveries import opened_recovery

    with mock_aws(), moto_seam.transactions_backed_up_by_item():
        table = load_template()["Resources"]["RecoveriesTable"]["Properties"]
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="recoveries",
            BillingMode="PAY_PER_REQUEST",
            **{k: table[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")},
        )
        store = RecoveryStore("recoveries", dynamodb)
        recovery = opened_recovery(store)
        before = dynamodb.scan(TableName="recoveries")["Items"]

        # When the same recovery is stored again (its first write's condition fails, after moto
        # has applied the transaction's other writes)
        stored_again = store.create_if_absent(recovery)

        # Then nothing changed: no second count, no entry written twice
        assert stored_again is False
        assert sorted(map(str, dynamodb.scan(TableName="recoveries")["Items"])) == sorted(map(str, before))
        assert store.counts(RecoveryStatus.OPEN).total == 1
