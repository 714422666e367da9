"""Task tokens are removed from whatever is shown, before it is cut or formatted."""

from __future__ import annotations

import json

from recovery_ops.service.recovery.dead_letters.preview import excerpt
from recovery_ops.service.recovery.model.redaction import REDACTED, restore_redacted, without_tokens

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"


def contract(**fields: object) -> dict:
    return {"task_token": TOKEN, "execution_name": "ord-1-item-1", "input": {"product_id": "sku-a"}, **fields}


def test_every_spelling_of_a_token_field_is_redacted_at_any_depth() -> None:
    body = {
        "task_token": TOKEN,
        "input": {"taskToken": TOKEN, "items": [{"TaskToken": TOKEN, "Token": TOKEN, "sku": "a"}]},
    }

    shown = without_tokens(body)

    assert shown == {
        "task_token": REDACTED,
        "input": {"taskToken": REDACTED, "items": [{"TaskToken": REDACTED, "Token": REDACTED, "sku": "a"}]},
    }
    assert body["task_token"] == TOKEN  # the stored value is untouched


def test_a_json_text_is_redacted_as_json_and_a_plain_text_by_its_key_value_pairs() -> None:
    assert TOKEN not in without_tokens(json.dumps(contract()))
    assert json.loads(without_tokens(json.dumps(contract())))["execution_name"] == "ord-1-item-1"
    redacted = without_tokens(f"refused: task_token={TOKEN} at step 3")
    assert redacted == f"refused: task_token={REDACTED} at step 3"
    assert without_tokens(f"'taskToken': '{TOKEN}', 'x': 1") == f"'taskToken': '{REDACTED}', 'x': 1"


def test_a_body_cut_short_inside_its_token_loses_the_rest_of_the_token() -> None:
    cut = json.dumps(contract())[: json.dumps(contract()).index(TOKEN) + 20]

    assert without_tokens(cut).endswith(f'"task_token": "{REDACTED}"')
    assert TOKEN[:16] not in without_tokens(cut)


def test_known_token_values_are_removed_wherever_they_appear() -> None:
    redacted = without_tokens(f"the step said {TOKEN} was bad", known=(TOKEN,))
    assert redacted == f"the step said {REDACTED} was bad"


def test_text_without_a_token_is_left_as_it_is() -> None:
    assert without_tokens("the token expired before anyone acted") == "the token expired before anyone acted"
    assert without_tokens({"tokens_left": None, "n": 1}) == {"tokens_left": None, "n": 1}


def test_a_dlq_excerpt_is_cut_after_the_token_is_removed() -> None:
    body = json.dumps(contract(cause="x" * 1000))

    shown = excerpt(body, limit=120)

    assert TOKEN[:16] not in shown and shown.startswith('{"task_token":"[redacted]","execution_name"')
    assert len(shown) == 120


def test_an_edit_of_a_redacted_view_gives_token_fields_back_their_stored_values() -> None:
    stored = {"card": {"token": TOKEN, "last4": "4242"}, "items": [{"token": TOKEN}], "amount": 10}
    edited = {"card": {"token": REDACTED, "last4": "4242"}, "items": [{"token": REDACTED}], "amount": 12}

    assert restore_redacted(edited, stored) == {
        "card": {"token": TOKEN, "last4": "4242"},
        "items": [{"token": TOKEN}],
        "amount": 12,
    }
    # a field the editor really changed, or a [redacted] value that is no token field, stays as typed
    assert restore_redacted({"card": {"token": "new"}, "note": REDACTED}, stored) == {
        "card": {"token": "new"},
        "note": REDACTED,
    }


def test_log_records_lose_their_token_fields_before_any_handler_formats_them() -> None:
    import logging

    from recovery_ops.service.observability import WithoutTokens

    record = logging.LogRecord(
        "recovery-ops", logging.INFO, __file__, 1, f"body: {json.dumps(contract())}", None, None
    )
    record.body = json.dumps(contract())  # an extra key, as logger.info(..., body=...) gives
    record.detail = {"taskToken": TOKEN}

    assert WithoutTokens().filter(record)
    assert (
        TOKEN not in record.getMessage()
        and TOKEN not in record.body
        and record.detail == {"taskToken": REDACTED}
    )
