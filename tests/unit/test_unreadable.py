"""A recovery request that cannot be read: what is shown of it, and its notice told once."""

from __future__ import annotations

import json

import pytest

from recovery_ops.service.recovery.intake.unreadable import (
    UnreadableNotices,
    notice_id,
    read_what_can_be_read,
)
from recovery_ops.service.recovery.ports.notifier import (
    MessageRef,
    NotifierUnavailableError,
    UnreadableMessage,
)
from recovery_ops.slack_app.views.unreadable_message import unreadable_blocks, unreadable_fallback_text
from tests.support.slack_safety import hostile, unsafe_spots

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAV3xLive+Token/Of/A/Paused/Task=="
EXECUTION_ARN = "arn:aws:states:eu-west-1:123456789012:execution:ProcessOrderSM:order-7"
MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:ProcessOrderSM"


class RecordedNotifier:
    """A chat tool that records what it was asked to post; it may be told to be down."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.posted: list[tuple[UnreadableMessage, str]] = []

    def post_unreadable(self, message: UnreadableMessage, channel: str) -> MessageRef:
        if self.down:
            raise NotifierUnavailableError("chat.postMessage: 503")
        self.posted.append((message, channel))
        return MessageRef(channel, f"{len(self.posted)}.0")


class InMemoryClaims:
    def __init__(self) -> None:
        self.claimed: set[str] = set()

    def claim(self, message_id: str) -> bool:
        if message_id in self.claimed:
            return False
        self.claimed.add(message_id)
        return True

    def release(self, message_id: str) -> None:
        self.claimed.discard(message_id)


def unreadable(
    body: object, problems: tuple[tuple[str, str], ...] = (("execution_name", "Field required"),)
) -> UnreadableMessage:
    text = body if isinstance(body, str) else json.dumps(body)
    return read_what_can_be_read(text, "msg-1", problems)


# ------------------------------------------------------------------ what can be read
def test_a_body_that_is_not_json_shows_only_its_reason() -> None:
    # Given / When
    message = unreadable("task_token=" + TOKEN + " not json", (("body", "Invalid JSON: expected value"),))

    # Then
    assert message == UnreadableMessage(message_id="msg-1", reason="body — Invalid JSON: expected value")


def test_each_problem_names_its_field_on_a_line_of_its_own_even_a_token_field() -> None:
    # Given / When
    message = unreadable({}, (("task_token", "Field required"), ("execution_arn", "Field required")))

    # Then "task_token: Field required" would have read as a token field and been redacted
    assert message.reason == "task_token — Field required\nexecution_arn — Field required"


def test_the_execution_state_machine_and_failed_state_are_read_when_they_are_text() -> None:
    # Given / When
    message = unreadable(
        {
            "task_token": TOKEN,
            "execution_arn": EXECUTION_ARN,
            "state_machine_arn": MACHINE_ARN,
            "failed_state": "Check availability",
        }
    )

    # Then
    assert message.execution_arn == EXECUTION_ARN
    assert message.execution_name == "order-7"  # from the ARN, as the name is missing
    assert message.state_machine_name == "ProcessOrderSM"
    assert message.failed_state == "Check availability"
    assert message.console_url is not None and message.console_url.endswith(EXECUTION_ARN)


def test_the_state_machine_is_read_from_the_execution_arn_when_its_own_arn_is_missing() -> None:
    # Given / When
    message = unreadable({"execution_arn": EXECUTION_ARN})

    # Then
    assert message.state_machine_name == "ProcessOrderSM"


def test_an_execution_arn_that_is_no_execution_arn_gives_no_link() -> None:
    # Given / When
    message = unreadable({"execution_arn": "https://evil.example.com", "failed_state": 12})

    # Then
    assert (message.execution_arn, message.console_url, message.failed_state) == (None, None, None)


def test_the_messages_own_token_is_removed_wherever_a_sender_put_it() -> None:
    # Given a recovery step whose paths are swapped: the token went into the execution's fields too
    body = {"taskToken": TOKEN, "execution_name": TOKEN, "failed_state": f"Charge {TOKEN}"}

    # When
    message = unreadable(body, (("execution_arn", f"Field required; seen {TOKEN}"),))

    # Then
    assert TOKEN not in repr(message)
    assert message.failed_state == "Charge [redacted]"


# ------------------------------------------------------------------ once per message
def test_a_notice_is_posted_to_the_channel_it_was_given() -> None:
    # Given
    notifier = RecordedNotifier()
    notices = UnreadableNotices(InMemoryClaims(), notifier, channel="C-TECH")

    # When
    told = notices.tell(unreadable({"execution_arn": EXECUTION_ARN}))

    # Then
    assert told is True
    assert [(m.execution_arn, channel) for m, channel in notifier.posted] == [(EXECUTION_ARN, "C-TECH")]


def test_the_same_message_a_second_time_posts_nothing() -> None:
    # Given
    notifier = RecordedNotifier()
    notices = UnreadableNotices(InMemoryClaims(), notifier, channel="C-TECH")
    notices.tell(unreadable("not json"))

    # When
    told_again = notices.tell(unreadable("not json"))

    # Then
    assert told_again is False
    assert len(notifier.posted) == 1


def test_a_notice_that_could_not_be_posted_is_posted_by_the_next_delivery() -> None:
    # Given Slack down for the first delivery
    notifier = RecordedNotifier(down=True)
    notices = UnreadableNotices(InMemoryClaims(), notifier, channel="C-TECH")
    with pytest.raises(NotifierUnavailableError):
        notices.tell(unreadable("not json"))

    # When Slack is back and the message comes again (a redrive of the DLQ)
    notifier.down = False
    told = notices.tell(unreadable("not json"))

    # Then
    assert told is True
    assert len(notifier.posted) == 1


def test_the_claim_key_hashes_the_message_id_under_a_prefix_of_its_own() -> None:
    # Given / When
    key = notice_id("059f36b4-87a3-44ab-83d2-661975830a7d")

    # Then
    assert key.startswith("unreadable#") and len(key) == len("unreadable#") + 32
    assert "059f36b4" not in key


# ------------------------------------------------------------------ the Slack notice
def test_the_notice_links_the_execution_and_says_it_stays_paused() -> None:
    # Given
    message = unreadable({"execution_arn": EXECUTION_ARN, "failed_state": "Check availability"})

    # When
    blocks = [b.to_dict() for b in unreadable_blocks(message)]

    # Then
    text = json.dumps(blocks, ensure_ascii=False)
    assert f"#/v2/executions/details/{EXECUTION_ARN}|order-7>" in text
    assert "stays paused until someone acts" in text
    assert "execution_name — Field required" in text
    assert unsafe_spots({"text": unreadable_fallback_text(message), "blocks": blocks}) == []


def test_a_hostile_unreadable_message_makes_a_notice_slack_acts_on_nowhere() -> None:
    # Given every field that is shown holds every trick Slack parses, and the token
    message = unreadable(
        {
            "task_token": TOKEN,
            "execution_arn": EXECUTION_ARN + hostile(":x"),
            "execution_name": hostile("name") + TOKEN,
            "state_machine_arn": MACHINE_ARN + hostile("m"),
            "failed_state": hostile("state"),
        },
        problems=((hostile("where"), hostile("reason") + f" task_token={TOKEN}"),),
    )

    # When
    payload = {
        "text": unreadable_fallback_text(message),
        "blocks": [b.to_dict() for b in unreadable_blocks(message)],
    }

    # Then
    assert unsafe_spots(payload) == []
    assert TOKEN[:16] not in json.dumps(payload)


CALLBACK_ID = "eyJhcm4iOiJleGVjLTEiLCJvcCI6ImNhbGxiYWNrLTEyMyJ9"


def test_a_durable_functions_unreadable_message_shows_its_function_and_step_never_its_callback_id() -> None:
    # Given a durable function's message that forgot its input's JSON form and has a bad error
    body = {
        "kind": "durable-callback",
        "callback_id": CALLBACK_ID,
        "durable_execution_arn": "arn:aws:lambda:eu-west-1:123456789012:function:item-check:$LATEST"
        "/durable-execution/order-7/0f9c",
        "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:item-check:4",
        "step": "check stock",
        "error": {"Error": 500},
    }

    # When
    message = unreadable(body, (("error", 'the Catch\'s object must have a string "Error"'),))

    # Then its function, execution and step are shown, without a Step Functions link
    assert message.state_machine_name == "item-check"
    assert message.execution_name == "order-7"
    assert message.failed_state == "check stock"
    assert message.console_url is None
    shown = repr([unreadable_blocks(message), unreadable_fallback_text(message), message.reason])
    assert all(CALLBACK_ID[i : i + 12] not in shown for i in range(len(CALLBACK_ID) - 11))
