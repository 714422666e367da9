"""The channels' pace: one post a second per channel sustained, short bursts, across every process
that posts (the state is a DynamoDB item), Retry-After held for everyone; the stand-in refuses a
channel posted to faster than Slack allows, and the paced client keeps within it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from slack_sdk.errors import SlackApiError

from recovery_ops.service.local.standin.server import SlackStandIn, serve_slack_standin
from recovery_ops.service.recovery.storage import channel_pace
from recovery_ops.service.recovery.storage.channel_pace import (
    PACE_PREFIX,
    ChannelBackedUpError,
    DynamoChannelPace,
)
from recovery_ops.slack_app.web import web_client
from tests.support.fakes import FakeDynamoDB

TABLE = "recoveries"


class FakeTime:
    """A clock that moves only when someone sleeps (or the test says so)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.at = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(channel_pace, "now", fake.now)
    monkeypatch.setattr(channel_pace, "sleep", fake.sleep)
    return fake


def pace(dynamodb: Any, **settings: Any) -> DynamoChannelPace:
    return DynamoChannelPace(TABLE, dynamodb, **settings)


def sent_at(clock: FakeTime, paced: DynamoChannelPace, channel: str, count: int) -> list[float]:
    """When each of ``count`` posts to ``channel`` goes out, seconds from the start."""
    start = clock.at
    times = []
    for _ in range(count):
        paced.turn(channel)
        times.append(round(clock.at - start, 6))
    return times


def test_a_quiet_channel_takes_a_burst_then_one_post_a_second(clock: FakeTime) -> None:
    times = sent_at(clock, pace(FakeDynamoDB(), per_second=1.0, burst=3, max_wait_seconds=60), "C1", 8)
    assert times == [0, 0, 0, 1, 2, 3, 4, 5]


def test_posts_from_two_processes_share_one_pace(clock: FakeTime) -> None:
    dynamodb = FakeDynamoDB()
    first, second = pace(dynamodb, burst=2, max_wait_seconds=60), pace(dynamodb, burst=2, max_wait_seconds=60)
    start, times = clock.at, []
    for turn in range(10):
        (first if turn % 2 else second).turn("C1")
        times.append(round(clock.at - start, 6))
    assert times == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]


def test_channels_keep_their_own_pace(clock: FakeTime) -> None:
    paced = pace(FakeDynamoDB(), burst=1, max_wait_seconds=60)
    paced.turn("C1")
    paced.turn("C2")
    assert clock.slept == []
    paced.turn("C1")
    assert clock.slept == [1.0]


class RacedDynamoDB(FakeDynamoDB):
    """Another process takes a turn between this one's read and its write, once."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def update_item(self, **request: Any) -> dict[str, Any]:
        if not self.raced:
            self.raced = True
            other = DynamoChannelPace(TABLE, _Plain(self), burst=1, max_wait_seconds=60)
            other.turn("C1")
        return super().update_item(**request)


class _Plain:
    """The same table, without the race."""

    def __init__(self, table: FakeDynamoDB) -> None:
        self._table = table

    def get_item(self, **request: Any) -> dict[str, Any]:
        return self._table.get_item(**request)

    def update_item(self, **request: Any) -> dict[str, Any]:
        return FakeDynamoDB.update_item(self._table, **request)


def test_a_turn_lost_to_another_process_is_asked_for_again(clock: FakeTime) -> None:
    dynamodb = RacedDynamoDB()
    waited = pace(dynamodb, burst=1, max_wait_seconds=60).turn("C1")
    assert dynamodb.raced
    assert waited == 1.0  # the other process had the first turn
    tat = float(dynamodb.items(TABLE)[PACE_PREFIX + "C1"]["tat"]["N"])
    assert tat == clock.at + 1.0


def test_a_turn_too_far_away_is_not_taken(clock: FakeTime) -> None:
    dynamodb = FakeDynamoDB()
    paced = pace(dynamodb, burst=1, max_wait_seconds=2)
    sent_at(clock, paced, "C1", 3)  # 0, 1, 2: the next is 1 s away
    clock.at -= 5  # (as if three more invocations had reserved turns)
    before = dict(dynamodb.items(TABLE)[PACE_PREFIX + "C1"])
    with pytest.raises(ChannelBackedUpError) as refused:
        paced.turn("C1")
    assert refused.value.wait_seconds == pytest.approx(6.0)
    assert dynamodb.items(TABLE)[PACE_PREFIX + "C1"] == before


def test_retry_after_holds_the_channel_for_everyone_and_never_shortens_it(clock: FakeTime) -> None:
    dynamodb = FakeDynamoDB()
    one, other = pace(dynamodb, burst=3, max_wait_seconds=60), pace(dynamodb, burst=3, max_wait_seconds=60)
    one.hold("C1", 30)
    one.hold("C1", 5)  # a shorter Retry-After later does not shorten the first
    assert other.turn("C1") == pytest.approx(30.0)
    assert other.turn("C2") == 0.0


class Unreachable:
    def get_item(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem")

    def update_item(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")


def test_without_its_table_the_post_goes_out_unpaced(clock: FakeTime) -> None:
    paced = pace(Unreachable())
    assert [paced.turn("C1") for _ in range(5)] == [0.0] * 5
    paced.hold("C1", 10)  # logged, not raised


# ---------------------------------------------------------------- the stand-in and the client
def test_the_stand_in_refuses_a_channel_posted_to_faster_than_slack_allows() -> None:
    fake = FakeTime()
    standin = SlackStandIn(pace_clock=fake.now)
    answers = [
        standin.answer("chat.postMessage", {"channel": "C1", "text": "hi"}, "xoxb-t") for _ in range(6)
    ]
    assert [status for status, _, _ in answers] == [200] * 5 + [429]
    assert answers[-1][2] == {"Retry-After": "1"}
    assert standin.answer("chat.postMessage", {"channel": "C2", "text": "hi"}, "xoxb-t")[0] == 200
    fake.at += 1
    assert standin.answer("chat.postMessage", {"channel": "C1", "text": "hi"}, "xoxb-t")[0] == 200
    assert standin.answer("chat.postMessage", {"channel": "C1", "text": "hi"}, "xoxb-t")[0] == 429
    assert standin.answer("chat.update", {"channel": "C1", "ts": "1.0", "text": "x"}, "xoxb-t")[1][
        "error"
    ] == (
        "message_not_found"  # updates are not counted against the channel
    )


def test_a_paced_client_keeps_within_what_the_stand_in_allows(clock: FakeTime) -> None:
    with serve_slack_standin(SlackStandIn(pace_clock=clock.now)) as standin:
        client = web_client(
            "xoxb-t", base_url=standin.base_url, pace=pace(FakeDynamoDB(), max_wait_seconds=60)
        )
        for number in range(12):
            client.chat_postMessage(channel="C1", text=f"post {number}")
    assert [c.status for c in standin.calls_of("chat.postMessage", ok_only=False)] == [200] * 12
    times = standin.channel_posts("C1")
    assert len(times) == 12
    assert times[-1] - times[0] == pytest.approx(9.0)  # 3 at once, then one a second


class RecordingPace:
    def __init__(self) -> None:
        self.turns: list[str] = []
        self.held: list[tuple[str, float]] = []

    def turn(self, channel: str) -> float:
        self.turns.append(channel)
        return 0.0

    def hold(self, channel: str, seconds: float) -> None:
        self.held.append((channel, seconds))


def test_a_429_that_outlasts_the_retries_holds_the_channel_for_its_retry_after() -> None:
    recording = RecordingPace()
    with serve_slack_standin() as standin:
        standin.rate_limit_for(60, retry_after=7)
        client = web_client("xoxb-t", base_url=standin.base_url, retries=0, pace=recording)
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="C9", text="hi")
    assert recording.turns == ["C9"]
    assert recording.held == [("C9", 7.0)]


def test_a_pace_given_as_a_factory_is_built_on_the_first_post_and_kept() -> None:
    built: list[RecordingPace] = []

    def factory() -> RecordingPace:
        built.append(RecordingPace())
        return built[-1]

    with serve_slack_standin() as standin:
        client = web_client("xoxb-t", base_url=standin.base_url, pace_factory=factory)
        client.auth_test()
        assert built == []  # nothing posted yet: no pace, no table client
        client.chat_postMessage(channel="C1", text="one")
        client.chat_postMessage(channel="C2", text="two")
    assert len(built) == 1 and built[0].turns == ["C1", "C2"]
