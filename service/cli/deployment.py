"""Which deployment a command acts on: its options, else its stack's outputs, else the settings.

``--table``, ``--orders-dlq-url`` … win; what they leave out comes from the outputs of the stack
named by ``--stack`` (read only when something is missing), and what is still missing from the
``OperatorSettings`` read from the environment when the command line started.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from recovery_ops.service.config import OperatorSettings

#: the option (its argparse attribute) → the settings field it overrides, where their names differ
SETTING_OF_OPTION = {"table": "recoveries_table_name", "payloads": "payloads_bucket"}


def on_deployment(
    settings: OperatorSettings,
    stack: str | None,
    given: Mapping[str, str | None],
    outputs_for: Mapping[str, str],
    optional: Collection[str] = (),
) -> OperatorSettings:
    """``settings`` with each option in ``given`` that is set, else the output ``outputs_for``
    names in ``stack`` (``StackOutputError`` when the stack or a needed output is missing)."""
    from recovery_ops.service import aws_clients
    from recovery_ops.service.stack_outputs import settings_from_stack

    found = settings_from_stack(
        stack,
        {name: value or None for name, value in given.items()},
        outputs_for,
        lambda: aws_clients.client("cloudformation"),
        optional=optional,
    )
    return settings.model_copy(
        update={SETTING_OF_OPTION.get(name, name): value for name, value in found.items() if value}
    )
