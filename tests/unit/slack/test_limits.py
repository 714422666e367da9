"""The limits module: Slack's unit of length, and cuts that never break a link, a mention, an
entity or a code span."""

from __future__ import annotations

import pytest

from recovery_ops.slack_app.views.limits import MARKER, cut, length


def test_length_counts_utf16_code_units():
    # Given text of the Basic Multilingual Plane and text outside it
    # Then each emoji outside the BMP counts twice, as Slack counts
    assert length("abc") == 3
    assert length("é") == 1
    assert length("😀") == 2
    assert length("𝔘𝔫𝔦") == 6


def test_text_within_the_limit_is_kept_as_it_is():
    assert cut("a short line", 12) == "a short line"


def test_a_cut_keeps_to_the_limit_in_utf16_units_marker_included():
    # Given emoji-only text of 3,000 code points (6,000 UTF-16 units)
    text = "😀" * 3000
    # When it is cut to 3,000
    result = cut(text, 3000)
    # Then it is within 3,000 units, ends with the marker, and no emoji is split
    assert length(result) <= 3000
    assert result.endswith(MARKER)
    assert set(result.removesuffix(MARKER)) == {"😀"}


@pytest.mark.parametrize("limit", range(5, 40))
def test_a_cut_never_falls_inside_a_link_or_a_mention(limit):
    text = "see <https://example.com/a?b=1&amp;c=2|the execution> and <@U123ABC> or <!here> <#C1>"
    result = cut(text, limit, marker="…")
    body = result.removesuffix("…")
    assert length(result) <= limit
    assert body.count("<") == body.count(">")
    assert text.startswith(body)


@pytest.mark.parametrize("limit", range(3, 20))
def test_a_cut_never_falls_inside_an_entity(limit):
    text = "&amp;&lt;&gt;&amp;&#39;&amp;"
    body = cut(text, limit, marker="")
    assert text.startswith(body)
    assert body.count("&") == body.count(";")


@pytest.mark.parametrize("limit", range(4, 40))
def test_a_cut_inside_a_code_span_closes_it(limit):
    text = "the error `States.TaskFailed in step one` happened"
    result = cut(text, limit, marker="…")
    assert length(result) <= limit
    assert result.count("`") % 2 == 0


@pytest.mark.parametrize("limit", range(10, 60))
def test_a_cut_inside_a_code_block_closes_it(limit):
    text = "cause:\n```\nline one\nline two\nline three\n```\nafter"
    result = cut(text, limit, marker="…")
    assert length(result) <= limit
    assert result.count("```") % 2 == 0


def test_an_unclosed_fence_in_the_text_is_closed_even_without_a_cut():
    # Given a person's text with ``` that never closes
    # Then what is sent closes it, so it cannot run to the end of the message
    result = cut("no thanks ```rm -rf", 100)
    assert result.count("```") == 2
    assert result.startswith("no thanks ```rm -rf")


def test_a_marker_longer_than_the_limit_is_cut_itself():
    assert length(cut("x" * 50, 5)) <= 5


def test_a_250_kb_text_is_cut_quickly_and_within_the_limit():
    text = "<https://a.example|link> `code` &amp; 😀 " * 6500
    result = cut(text, 3000)
    assert length(result) <= 3000
    assert result.count("<") == result.count(">")
