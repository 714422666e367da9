"""The circuit breaker shared by every execution, its state in DynamoDB (one item per dependency)."""
