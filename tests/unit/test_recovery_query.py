"""What an operator asks for, parsed from plain text: durations, filters, and the messages of what
cannot be read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recovery_ops.service.recovery.lifecycle.query import (
    QueryError,
    RecoveryQuery,
    parse_duration,
    split_words,
)
from recovery_ops.service.recovery.storage.recoveries import ListFilter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        (" 3 H ", timedelta(hours=3)),
        ("366d", timedelta(days=366)),
    ],
)
def test_a_since_duration_is_a_number_and_a_unit(text: str, expected: timedelta) -> None:
    # Given / When / Then
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "-2h", "1.5h", "2 hours", "2h30m"])
def test_a_malformed_duration_is_refused_with_the_forms_that_work(text: str) -> None:
    # Given / When / Then
    with pytest.raises(QueryError, match="is not a duration: use a number and s, m, h, d or w"):
        parse_duration(text)


def test_a_duration_longer_than_a_year_is_refused() -> None:
    # Given / When / Then
    with pytest.raises(QueryError, match="'367d' is longer than a year"):
        parse_duration("367d")


def test_the_refused_text_is_cut_to_40_characters_in_the_message() -> None:
    # Given
    text = "x" * 100

    # When
    with pytest.raises(QueryError) as refused:
        parse_duration(text)

    # Then
    assert f"'{'x' * 40}'" in str(refused.value) and "x" * 41 not in str(refused.value)


def test_the_filters_become_the_stores_list_filter() -> None:
    # Given
    query = RecoveryQuery(failed_state="Check availability", error="VendorUnavailable", since="2h")

    # When
    where = query.list_filter()

    # Then
    assert where == ListFilter(
        failed_state="Check availability", error="VendorUnavailable", newer_than=timedelta(hours=2)
    )


def test_a_malformed_since_fails_when_the_filter_is_made() -> None:
    # Given
    query = RecoveryQuery(since="soon")

    # When / Then
    with pytest.raises(QueryError, match="'soon' is not a duration"):
        query.list_filter()


def test_a_query_without_filters_is_not_narrowed_and_describes_itself_as_all() -> None:
    # Given
    query = RecoveryQuery()

    # When / Then
    assert not query.narrowed and query.describe() == "all"


def test_any_one_filter_narrows_the_query() -> None:
    # Given / When / Then
    assert all(
        RecoveryQuery(**{name: "x"}).narrowed for name in ("failed_state", "error", "state_machine", "since")
    )


def test_the_description_names_each_filter_as_typed() -> None:
    # Given
    query = RecoveryQuery(failed_state="Check availability", state_machine="orders", since="7d")

    # When / Then
    assert query.describe() == 'state="Check availability" machine="orders" since="7d"'


def test_slack_words_build_the_same_query_as_the_command_lines_options() -> None:
    # Given
    words = split_words('error=VendorUnavailable state="Check availability" since=2h')

    # When
    query = RecoveryQuery.from_words(words)

    # Then
    assert query == RecoveryQuery(failed_state="Check availability", error="VendorUnavailable", since="2h")


@pytest.mark.parametrize("word", ["colour=red", "error", "error=", "=VendorUnavailable"])
def test_a_word_that_is_not_a_known_filter_is_refused(word: str) -> None:
    # Given / When / Then
    with pytest.raises(QueryError, match="is not a filter: use state=, error=, machine=, since= or owner="):
        RecoveryQuery.from_words([word])


def test_a_since_word_that_is_not_a_duration_is_refused() -> None:
    # Given / When / Then
    with pytest.raises(QueryError, match="'tomorrow' is not a duration"):
        RecoveryQuery.from_words(["since=tomorrow"])


def test_an_unclosed_quote_is_refused() -> None:
    # Given / When / Then
    with pytest.raises(QueryError, match="cannot read the command"):
        split_words('state="Check availability')


def test_a_query_read_back_from_its_json_is_the_same_query() -> None:
    # Given
    query = RecoveryQuery(error="VendorUnavailable", since="2h")

    # When / Then
    assert RecoveryQuery.from_json(query.to_json()) == query


@pytest.mark.parametrize(
    "text", ["not json", "[1]", '{"error": 1}', '{"since": "forever"}', '{"before": "x"}']
)
def test_a_forged_or_stale_button_query_is_refused(text: str) -> None:
    # Given / When / Then
    with pytest.raises(QueryError):
        RecoveryQuery.from_json(text)
