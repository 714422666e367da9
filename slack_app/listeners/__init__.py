"""Bolt listeners, one module per surface of the Slack app; each has ``register(app, services)``.

- ``recovery_buttons``: Run again, Edit input & run again, Reject (one recovery or a group
  message's), the row menu of the list and the Home, Reconcile now, Redrive of a failed execution
- ``ownership``: Take it, Take over, Release, Take all
- ``modals``: the edit, reject and bulk modals, opened and submitted
- ``slash_command``: `/recoveries`, with its Next page and retry confirmation buttons
- ``home``: the App Home tab, its filter and page buttons
- ``dead_letters``: `/recoveries dlq` and Redrive DLQ
- ``self_healing``: Stop on a group message that heals by itself

In each, ``register`` at the bottom names every listener's acknowledgement and lazy half, plain
functions of the module; the work they run sits above them. ``registration`` binds the services
to a lazy half; ``replies`` is what the surfaces share after the acknowledgement (who clicked, who
may act, what to tell them, the bulk runner).
"""
