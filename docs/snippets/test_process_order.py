from pathlib import Path

from recovery_ops.service.local.testing import Desk, RecoveryStack


class VendorDown(Exception):
    pass


def test_an_order_paused_by_a_vendor_outage_finishes_after_run_again(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    vendor = {"up": False}

    def check_availability(event, context):  # the Lambda task, answered in-process
        if not vendor["up"]:
            raise VendorDown(f"no answer for {event['item']}")
        return {"available": True}

    machine = recovery_stack.deploy_state_machine(
        Path(__file__).with_name("process_order.asl.json"),
        functions={"CheckProductAvailabilityFunction": check_availability},
    )
    execution = machine.start({"item": "sku-lamp"})

    recovery = desk.wait_for_recovery(execution)  # once its retries have failed too
    assert (recovery.failed_state, recovery.error) == ("Check availability", "VendorDown")
    vendor["up"] = True
    desk.run_again(recovery)

    output = desk.wait_for_output(execution)
    assert output == {"item": "sku-lamp", "status": "FINISHED", "availability": {"available": True}}
