"""What an escalation level posts: the user group mentioned on purpose, everything else escaped."""

from __future__ import annotations

from datetime import timedelta

from recovery_ops.service.recovery.lifecycle.escalation import Escalation
from recovery_ops.slack_app.views.escalation_message import escalation_text
from recovery_ops.slack_app.views.escaping import user_group
from tests.support.slack_safety import unsafe_spots
from tests.unit.slack.builders import ESCAPED_MENTIONS, MENTIONS, a_recovery

LEADS = "S0LEADS"


def an_escalation(**changes: object) -> Escalation:
    fields: dict = {
        "recovery": a_recovery(),
        "rule": "orders",
        "level": 1,
        "levels": 2,
        "user_group": LEADS,
        "channel": "C-ORDERS",
        "thread_ts": "1700000000.000100",
        "open_for": timedelta(minutes=31),
    }
    return Escalation(**{**fields, **changes})


def test_an_escalation_in_the_thread_mentions_the_group_and_says_how_long_nobody_owned_it() -> None:
    # When
    text = escalation_text(an_escalation())

    # Then
    assert text == (
        "🚨 <!subteam^S0LEADS> `order-1` has been open for 31 min and nobody owns it "
        "(rule `orders`, escalation level 1 of 2). `orders` stopped at `Check availability` with "
        "`VendorUnavailable`; recovery `rec-00000000000000000000000000000001`. "
        "Taking it stops the escalation."
    )
    assert unsafe_spots({"text": text}, user_groups=[LEADS]) == []


def test_an_escalation_in_another_channel_says_how_to_see_the_recovery() -> None:
    # When
    text = escalation_text(an_escalation(channel="C-INCIDENT", thread_ts=None, level=2))

    # Then
    assert "escalation level 2 of 2" in text
    assert "See it with `/recoveries show rec-00000000000000000000000000000001`." in text


def test_what_the_recovery_and_the_rules_carry_comes_out_escaped() -> None:
    # Given a recovery and a rule name full of mentions
    recovery = a_recovery(error=f"Boom {MENTIONS}", failed_state=f"State {MENTIONS}")

    # When
    text = escalation_text(an_escalation(recovery=recovery, rule=f"rule {MENTIONS}"))

    # Then only the group's mention is left for Slack to act on
    assert text.count(ESCAPED_MENTIONS) == 3
    assert unsafe_spots({"text": text}, user_groups=[LEADS]) == []


def test_a_user_group_mention_is_made_only_of_a_valid_group_id() -> None:
    assert user_group("S0PAYLEADS") == "<!subteam^S0PAYLEADS>"
    assert user_group("S0X>|<!channel") == "S0X&gt;|&lt;!channel"
    assert user_group("U0ALICE") == "U0ALICE"  # a person is no group
    assert user_group("s0lower") == "s0lower"


def test_the_safety_check_accepts_a_group_mention_only_in_its_exact_form_and_when_expected() -> None:
    assert unsafe_spots({"text": "<!subteam^S0LEADS> look"}, user_groups=[LEADS]) == []
    assert unsafe_spots({"text": "<!subteam^S0LEADS> look"}) != []  # not a group this test expects
    assert unsafe_spots({"text": "<!subteam^S0LEADS|@leads>"}, user_groups=[LEADS]) != []
    assert unsafe_spots({"text": "<!subteam^bad id>"}, user_groups=["bad id"]) != []
