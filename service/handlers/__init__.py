"""Lambda entry points: one thin module per function, wiring concrete clients to the domain."""
