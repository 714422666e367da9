recovery-ops instrument payments.asl.json --state "Charge card" --state "Reserve stock" \
    --routing client-data -o payments.recovering.asl.json     # QueueUrl stays ${RecoveryQueueUrl}
