recovery-ops dlq --stack recovery-ops                    # each DLQ's depth and its five oldest messages, nothing consumed
recovery-ops dlq redrive --stack recovery-ops --rate 5   # move the recovery DLQ back to the recovery queue, after confirming
