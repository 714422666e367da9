"""Every Slack view the app sends, one module per view, built from plain values.

- ``recovery_message``: the message of one recovery (its buttons, then its outcome);
- ``group_message``: one message for many recoveries of the same failure (bulk buttons, notice);
- ``failure_message``: an execution that failed outside the recovery pattern (Redrive);
- ``unreadable_message``: a recovery request that does not follow the contract;
- ``listing``: the answers of `/recoveries`: the open list, paged, those in flight, and one recovery
  in full;
- ``modals``: edit an input, confirm a rejection, confirm a bulk action;
- ``dead_letters``: `/recoveries dlq` and its Redrive DLQ confirmation;
- ``thread_replies``: what is posted in a message's thread (reminders, outcomes, bulk progress);
- ``ephemeral``: what only the person who clicked or typed sees (outcomes, refusals, failures);
- ``escaping``: the one way untrusted text enters a view; ``limits``: Slack's limits.

Views take values and return slack_sdk Block Kit models or text; they call nothing. Importing
this package loads nothing: the acknowledgement path of a click never imports a view.
"""
