"""`recovery-ops serve --local`: the Slack app against the embedded stack of `make demo`.

Deploys template.yaml into moto, pauses a few demo orders (a vendor outage and an unknown
product), and keeps the collector running, so their messages reach your workspace
(``SLACK_BOT_TOKEN``, channel ``SLACK_CHANNEL``). Clicking Run again, Edit or Reject there
resumes or compensates these local executions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.stack import embedded_stack, quiet_interpreter_logs
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor
from recovery_ops.service.local.standin.local_slack import LocalSlack
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore

if TYPE_CHECKING:
    from recovery_ops.service.config import ServeSettings

PAUSE_DEADLINE_SECONDS = 180
PAUSED_ORDERS = [
    {"customer_id": "customer-1", "product_id": "sku-lamp", "quantity": 1},
    {"customer_id": "customer-2", "product_id": "sku-desk", "quantity": 2},
    {"customer_id": "customer-3", "product_id": "sku-unknown!", "quantity": 1},
]


@contextmanager
def local_services(
    settings: ServeSettings, say: Callable[[str], None] = print
) -> Iterator[Callable[[Any], Any]]:
    """The Slack app's services over an embedded stack with a few demo orders paused in it: a function
    of the Slack web client, as ``app_for_this_machine`` takes it."""
    from recovery_ops.service.composition import build_services
    from recovery_ops.service.config import ServicesConfig

    slack = LocalSlack.workspace(settings)  # the token itself is checked by serve
    allowed = settings.allowed_users
    group = settings.allowed_user_group or None
    quiet_interpreter_logs()
    vendor = DummyVendor(VendorBehaviour(outage=True))
    stop = threading.Event()
    with ExitStack() as resources:
        vendor_url = resources.enter_context(serve_dummy_vendor(vendor))
        stack = resources.enter_context(
            embedded_stack(
                parameters={
                    "VendorUrl": vendor_url,
                    "SlackDefaultChannel": settings.channel,
                    "CircuitBreakerEnabled": "false",
                },
                secrets=slack.secrets(),
                # SLACK_API_URL: another Slack Web API endpoint (the tests' stand-in)
                environment=slack.environment(),
                quiet=True,
                prepare=stock_local_catalogue,
            )
        )
        api = LocalOrderApi()
        for order in PAUSED_ORDERS:
            placed = api.place(order).body
            say(f"  placed {placed['order_id']} ({order['product_id']}): it will pause for a person")
        collected = threading.Event()  # every placed order has paused and been stored

        def collect() -> None:
            store = RecoveryStore(
                stack.physical("RecoveriesTable"), stack.client("dynamodb"), payloads=stack.payloads()
            )
            while not stop.is_set():
                poll_collector(stack)
                if len(store.list_by_status(RecoveryStatus.OPEN, limit=100)) >= len(PAUSED_ORDERS):
                    collected.set()
                stop.wait(0.2 if not collected.is_set() else 2.0)

        threading.Thread(target=collect, daemon=True, name="local-collector").start()
        resources.callback(stop.set)
        if not collected.wait(PAUSE_DEADLINE_SECONDS):
            raise RuntimeError(f"the demo orders did not pause within {PAUSE_DEADLINE_SECONDS} s")
        vendor.set_behaviour(VendorBehaviour())  # back up only now: Run again will succeed
        if not (allowed or group):
            say("  no SLACK_ALLOWED_USER_IDS: on this local sandbox every member of the workspace may act")
        say(f"  embedded stack {stack.name}; recoveries table {stack.physical('RecoveriesTable')}")

        config = ServicesConfig(
            recoveries_table_name=stack.physical("RecoveriesTable"),
            allowed_user_ids=",".join(allowed),
            allowed_user_group=group,
            input_schemas_parameter=stack.physical("InputSchemas"),
            orders_dlq_url=stack.physical("OrdersDeadLetterQueue"),
            recovery_dlq_url=stack.physical("RecoveryDeadLetterQueue"),
            recovery_queue_url=stack.physical("RecoveryQueue"),
        )

        def services(client: Any) -> Any:
            return build_services(config, stack.client, client, open_to_everyone=not (allowed or group))

        yield services
