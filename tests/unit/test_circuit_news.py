"""Circuit news picks the recoveries a closed circuit's outage left by dependency and outage error
together, never by the error alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from recovery_ops.service.handlers.circuit_watcher import execution_name
from recovery_ops.service.recovery.healing.circuit_news import CircuitClosed, CircuitNews
from recovery_ops.service.recovery.healing.runs import Closure
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.ports.notifier import CircuitClosedNotice, MessageRef, RecoveryGroup
from recovery_ops.service.recovery.storage.groups import GroupStore
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB
from tests.unit.slack.builders import a_recovery

TABLE = "recoveries"
AT = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


@dataclass
class Notices:
    updated: list[tuple[str, CircuitClosedNotice]] = field(default_factory=list)

    def update_group(
        self, group: RecoveryGroup, message: MessageRef, notice: CircuitClosedNotice | None = None
    ) -> None:
        assert notice is not None
        self.updated.append((group.group_id, notice))


def news_over(*recoveries: Recovery) -> tuple[CircuitNews, Notices]:
    dynamodb = FakeDynamoDB()
    store, groups = RecoveryStore(TABLE, dynamodb), GroupStore(TABLE, dynamodb)
    for recovery in recoveries:
        store.create_if_absent(recovery)
        groups.add_members(recovery.group_id, [recovery], AT)
        groups.set_message(recovery.group_id, "C-O", f"ts-{recovery.group_id}")
        store.mark_posted(recovery.recovery_id, "C-O", f"ts-{recovery.group_id}", recovery.group_id)
    notices = Notices()
    news = CircuitNews(store, groups, notices, outage_errors=("CircuitOpen", "VendorUnavailable"))  # type: ignore[arg-type]
    return news, notices


def test_only_the_groups_of_the_closed_dependencys_outage_are_told() -> None:
    news, notices = news_over(
        a_recovery(1, dependency="vendor", error="CircuitOpen", group_id="grp-vendor"),
        a_recovery(2, dependency="payments", error="CircuitOpen", group_id="grp-payments"),
        a_recovery(3, dependency="vendor", error="ProductUnavailable", group_id="grp-data"),
        a_recovery(4, dependency=None, error="CircuitOpen", group_id="grp-unsaid"),
    )

    told = news.announce(CircuitClosed("vendor", AT.isoformat()))

    assert told == ["grp-vendor"]
    assert [(group, notice.dependency, notice.waiting) for group, notice in notices.updated] == [
        ("grp-vendor", "vendor", 1)
    ]


def test_each_closing_has_its_own_self_healing_execution_name_within_step_functions_rules() -> None:
    first, again = Closure("vendor", 1764586800.123), Closure("vendor", 1764587000.5)
    odd = Closure("<!channel> payments: eu/west " + "x" * 100, 1764586800.0)

    assert execution_name(first) == "vendor-1764586800123" != execution_name(again)
    name = execution_name(odd)
    assert len(name) <= 80 and all(c.isalnum() or c in "-_" for c in name)
