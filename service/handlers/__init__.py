"""Lambda entry points: one thin module per function. Each reads its settings
(``recovery_ops.service.config``),
builds its work from the composition root (``recovery_ops.service.composition``) and runs it."""
