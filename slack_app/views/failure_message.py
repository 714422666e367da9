"""An execution that ended without asking for a person: what failed, why, and a Redrive button
while Step Functions still allows one (then what the redrive came to, in place)."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)

from recovery_ops.service.recovery.failed_executions.failures import FailedExecution
from recovery_ops.service.recovery.model.redaction import without_tokens
from recovery_ops.slack_app.ids import REDRIVE
from recovery_ops.slack_app.views.escaping import code, escape, link, mrkdwn, one_line, plain, truncate, who
from recovery_ops.slack_app.views.limits import HEADER_TEXT_LIMIT, SECTION_TEXT_LIMIT
from recovery_ops.slack_app.views.recovery_message import cause_block


def failure_fallback_text(failure: FailedExecution) -> str:
    return truncate(
        f"Workflow {one_line(failure.execution_status.lower())}: {one_line(failure.state_machine_name)} / "
        f"{one_line(failure.execution_name)} ({one_line(failure.error or 'no error')})",
        SECTION_TEXT_LIMIT,
    )


def failure_blocks(failure: FailedExecution, redrivable: bool) -> list[Block]:
    """An execution that ended without asking for a person: what, why, and Redrive while allowed."""
    header = truncate(
        plain(f"❌ {failure.state_machine_name}: workflow {failure.execution_status.lower()}"),
        HEADER_TEXT_LIMIT,
    )
    facts = (
        f"*Execution:* {link(failure.console_url, failure.execution_name)}\n"
        f"*Error:* {code(failure.error or 'none')}  ·  *Stopped at:* {one_line(failure.stopped_at)}\n"
        "No step of this execution asked for a person: it failed outside the recovery pattern."
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header)),
        SectionBlock(text=mrkdwn(truncate(facts, SECTION_TEXT_LIMIT))),
    ]
    if failure.cause:
        blocks.append(cause_block(failure.cause))
    if failure.status == "FAILED_EXECUTION" and redrivable:
        blocks.append(
            ActionsBlock(
                block_id=f"failure:{failure.failure_id}",
                elements=[
                    ButtonElement(
                        text="Redrive", action_id=REDRIVE, value=failure.failure_id, style="primary"
                    )
                ],
            )
        )
    elif failure.status != "FAILED_EXECUTION":
        last = failure.audit[-1]
        outcome = {
            "REDRIVEN": f"🔁 *Redriven* by {who(last.actor)} at {one_line(last.at)}: it restarts where it "
            "failed.",
            "NOT_REDRIVABLE": "⛔ *Not redrivable* "
            f"({escape(without_tokens(str(last.detail.get('why') or last.detail)))}).",
            "REDRIVING": f"🔁 Redrive by {who(last.actor)} under way…",
        }.get(str(failure.status), one_line(failure.status))
        blocks.append(SectionBlock(text=mrkdwn(truncate(outcome, SECTION_TEXT_LIMIT))))
    else:
        blocks.append(SectionBlock(text=mrkdwn("Older than 14 days: Step Functions cannot redrive it.")))
    blocks.append(ContextBlock(elements=[mrkdwn(f"failure {code(failure.failure_id)}")]))
    return blocks
