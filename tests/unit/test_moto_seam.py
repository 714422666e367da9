"""The seam to moto's internals: checked against the installed packages before any patch."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest

from service.local import moto_seam
from service.local.moto_seam import MotoSeamMismatch, SeamTarget


def test_the_installed_moto_has_every_internal_the_seam_patches() -> None:
    # Given the moto this project installs
    # When every declared target is checked
    moto_seam.check(moto_seam.TARGETS)
    # Then nothing is reported (no exception)


def test_every_patched_internal_is_declared_once() -> None:
    assert len(set(moto_seam.TARGETS)) == len(moto_seam.TARGETS)
    assert moto_seam.LAMBDA_INVOKE in moto_seam.TARGETS and moto_seam.RETRY_TIME in moto_seam.TARGETS


def test_a_missing_internal_fails_at_once_naming_moto_the_target_and_the_remedy() -> None:
    # Given a target naming an attribute moto does not have
    missing = SeamTarget("moto.awslambda_simple.models", "LambdaSimpleBackend.invoke_in_process", ("self",))

    # When the seam is checked
    with pytest.raises(MotoSeamMismatch) as failure:
        moto_seam.check([moto_seam.LAMBDA_INVOKE, missing])

    # Then one error names the moto installed, the target, what was found and what to do
    message = str(failure.value)
    assert "written against moto 5.2.x" in message
    assert f"moto {version('moto')}" in message
    assert "moto.awslambda_simple.models:LambdaSimpleBackend.invoke_in_process" in message
    assert "has no attribute invoke_in_process" in message
    assert "service/local/moto_seam.py" in message and "pyproject.toml" in message
    assert "LambdaSimpleBackend.invoke:" not in message  # the real target passes


def test_a_missing_module_is_reported_as_such() -> None:
    gone = SeamTarget("moto.stepfunctions.parser.gone", "parse")
    with pytest.raises(MotoSeamMismatch, match=r"module moto\.stepfunctions\.parser\.gone cannot be"):
        moto_seam.check([gone])


def test_a_changed_signature_fails_with_what_was_expected_and_what_was_found() -> None:
    # Given a target written against other parameters than the installed method has
    changed = SeamTarget(
        moto_seam.WAIT_INTERVAL.module, moto_seam.WAIT_INTERVAL.attribute, ("self", "env", "seconds")
    )

    # When the seam is checked
    with pytest.raises(MotoSeamMismatch) as failure:
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
    with pytest.raises(MotoSeamMismatch) as failure:
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
