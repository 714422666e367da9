"""Lambda entry points: one thin module per function. Each reads its settings (``service.config``),
builds its work from the composition root (``service.composition``) and runs it."""
