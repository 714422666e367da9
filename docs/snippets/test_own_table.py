"""A team's own DynamoDB table beside the recovery service: created with the stack's client, its name
given to the definition by substitution, and read back after the run."""

from recovery_ops.service.local.testing import Desk, RecoveryStack

DEFINITION = {
    "StartAt": "Charge card",
    "States": {
        "Charge card": {
            "Type": "Task",
            "Resource": "${ChargeFunction}",
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Request recovery"}],
            "Next": "Record payment",
        },
        "Request recovery": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": "${RecoveryQueueUrl}",
                "MessageBody": {
                    "contract_version": 1,
                    "task_token.$": "$$.Task.Token",
                    "execution_arn.$": "$$.Execution.Id",
                    "execution_name.$": "$$.Execution.Name",
                    "state_machine_arn.$": "$$.StateMachine.Id",
                    "failed_state": "Charge card",
                    "input.$": "$",
                    "error.$": "$.error.Error",
                    "cause.$": "$.error.Cause",
                    "routing": "technical",
                    "requested_at.$": "$$.State.EnteredTime",
                },
            },
            "ResultPath": None,
            "Next": "Charge card",
        },
        "Record payment": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {
                "TableName": "${PaymentsTable}",
                "Item": {"order_id": {"S.$": "$.order_id"}, "charged": {"S.$": "$.charge.id"}},
            },
            "ResultPath": None,
            "End": True,
        },
    },
}


def test_a_charge_run_again_is_recorded_in_the_teams_own_table(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    dynamodb = recovery_stack.client("dynamodb")  # the same moto the recovery service runs in
    dynamodb.create_table(
        TableName="payments",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    card = {"declined": True}

    def charge(event, context):
        if card["declined"]:
            raise RuntimeError("card processor timed out")
        return {**event, "charge": {"id": "ch-1"}}

    machine = recovery_stack.deploy_state_machine(
        DEFINITION,
        name="payments",
        functions={"ChargeFunction": charge},
        substitutions={"PaymentsTable": "payments"},
    )
    execution = machine.start({"order_id": "o-1"})

    recovery = desk.wait_for_recovery(execution)
    card["declined"] = False
    desk.run_again(recovery)

    assert desk.wait_for_end(execution).status == "SUCCEEDED"
    item = dynamodb.get_item(TableName="payments", Key={"order_id": {"S": "o-1"}})["Item"]
    assert item["charged"] == {"S": "ch-1"}
