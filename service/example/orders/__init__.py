"""The order domain: the order request, the orders table and the order workflow's executions."""
