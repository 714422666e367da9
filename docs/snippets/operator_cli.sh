recovery-ops list --stack recovery-ops --error VendorUnavailable --since 2h
recovery-ops list --stack recovery-ops --in-flight                  # only those in flight (claimed, outcome not stored)
recovery-ops show rec-… --stack recovery-ops
recovery-ops retry rec-… --stack recovery-ops                       # Run again
recovery-ops retry rec-… --stack recovery-ops --input edited.json   # Edit & run again (JSON, 256 KiB, schema via INPUT_SCHEMAS_PARAMETER)
recovery-ops retry --stack recovery-ops --error VendorUnavailable --state "Check availability" --since 2h   # asks to confirm; --yes
recovery-ops reject rec-… --stack recovery-ops --reason "customer cancelled"
recovery-ops approvals --stack recovery-ops                         # what waits for your approval; --mine: your own requests
recovery-ops approve 5c0f… --stack recovery-ops                     # never your own; the last approval runs it
recovery-ops deny 5c0f… --stack recovery-ops --reason "wrong account"
recovery-ops reconcile rec-… --stack recovery-ops                   # settle one in flight from Step Functions' record now
recovery-ops reconcile --stack recovery-ops                         # one reconciler run over every expired lease
recovery-ops dlq --stack recovery-ops                               # the DLQs; `dlq redrive` moves the recovery DLQ back
recovery-ops routes show --stack recovery-ops                       # the routing rules; `routes test` tries one
