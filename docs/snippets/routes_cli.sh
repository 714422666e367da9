recovery-ops routes show --file rules.json        # every rule in order, and the fallback; exit 2 with every problem
recovery-ops routes show --stack recovery-ops     # the deployed rules, with the stack's channels
recovery-ops routes test --stack recovery-ops --machine payments --state "Charge card" \
    --error CardDeclined --routing client-data    # which rule would match, and why
