"""recovery-ops service: workflow Lambdas, the recovery core and the embedded local stack."""
