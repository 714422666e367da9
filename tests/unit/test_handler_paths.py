"""A function's Handler is checked when it is deployed: what is refused, with which message. The
modules are written to a temporary directory on sys.path; no stack."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from recovery_ops.service.local.engine.lambda_dispatch import HandlerPathError, checked_handler


@pytest.fixture
def team_code(tmp_path: Path) -> Iterator[Path]:
    """A package ``team_handlers`` of a team's: a good handler, a constant, a broken module."""
    package = tmp_path / "team_handlers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "charge.py").write_text("LIMIT = 5\n\ndef lambda_handler(event, context):\n    return event\n")
    (package / "broken.py").write_text("raise RuntimeError('no CHARGE_TABLE in the environment')\n")
    (package / "needs.py").write_text("import not_installed_anywhere\n")
    sys.path.insert(0, str(tmp_path))
    yield package
    sys.path.remove(str(tmp_path))
    for name in [name for name in sys.modules if name.startswith("team_handlers")]:
        del sys.modules[name]


def test_a_handler_that_is_there_is_returned_callable(team_code: Path) -> None:
    handler = checked_handler("ChargeFunction", "team_handlers.charge.lambda_handler")

    assert handler({"amount": 3}, None) == {"amount": 3}


@pytest.mark.parametrize(
    ("path", "told"),
    [
        ("team_handlers.charge", "module team_handlers has no charge"),
        ("team_handlers.chrage.lambda_handler", "no module team_handlers.chrage can be imported"),
        ("team_handlers.charge.handler", "module team_handlers.charge has no handler"),
        ("team_handlers.charge.LIMIT", "LIMIT in team_handlers.charge is not a function"),
        ("team_handlers.broken.lambda_handler", "failed with RuntimeError: no CHARGE_TABLE in the"),
        ("team_handlers.needs.lambda_handler", "(it imports not_installed_anywhere, which is not installed)"),
        ("lambda_handler", 'is not "module.function"'),
        ("team_handlers.charge.", 'is not "module.function"'),
        ("", 'is not "module.function"'),
    ],
)
def test_a_handler_path_that_names_no_function_is_refused_naming_the_function_and_the_mistake(
    team_code: Path, path: str, told: str
) -> None:
    with pytest.raises(HandlerPathError) as refused:
        checked_handler("ChargeFunction", path)

    assert str(refused.value).startswith("function ChargeFunction: Handler ")
    assert told in str(refused.value)
