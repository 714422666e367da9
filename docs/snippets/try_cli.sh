recovery-ops try payments.recovering.asl.json --fail "Charge card" \
    --function ValidateFunction=payments_functions:validate \
    --function charge-card=payments_functions:charge --sub Currency=EUR --input order.json
