"""Action, view and command ids shared by the messages and the listeners (kept import-light: the
Lambda handler registers its listeners with these before anything heavy is loaded)."""

RUN_AGAIN = "recovery_run_again"
EDIT_AND_RUN_AGAIN = "recovery_edit_and_run_again"
REJECT = "recovery_reject"
RUN_AGAIN_ALL = "recovery_group_run_again"
REJECT_ALL = "recovery_group_reject"
ROW_MENU = "recovery_row_menu"
NEXT_PAGE = "recoveries_next_page"
BULK_CONFIRM = "recoveries_bulk_confirm"
BULK_CANCEL = "recoveries_bulk_cancel"
REDRIVE = "execution_redrive"

EDIT_SUBMIT = "recovery_edit_submit"
REJECT_SUBMIT = "recovery_reject_submit"
BULK_SUBMIT = "recovery_bulk_submit"

# the dead-letter queues (`/recoveries dlq`): Redrive DLQ, then confirm or cancel
DLQ_REDRIVE = "dlq_redrive"
DLQ_REDRIVE_CONFIRM = "dlq_redrive_confirm"
DLQ_REDRIVE_CANCEL = "dlq_redrive_cancel"

COMMAND = "/recoveries"

# ownership: Take it (one recovery, or every open one of a group message), take over, release
TAKE = "recovery_take"
TAKE_OVER = "recovery_take_over"
RELEASE = "recovery_release"
TAKE_ALL = "recovery_group_take"

# self-healing: Stop on a group message whose recoveries resume by themselves
STOP_HEALING = "self_healing_stop"

# the App Home tab: a filter (a count's "Show these", "Show all") and a page (Previous / Next)
HOME_FILTER = "home_filter"
# Previous and Next share one actions block, and Slack wants action ids unique within a block
HOME_PAGE_PREVIOUS = "home_page_previous"
HOME_PAGE_NEXT = "home_page_next"

# an in-flight recovery's `show`: an admin settles it now from Step Functions' record
RECONCILE_NOW = "recovery_reconcile_now"

# a burst message (distinct failures folded into one message): list every recovery it holds
BURST_LIST = "recoveries_burst_list"
# a digest of reminders or escalations: list them all, in pages, to the person who clicks
DIGEST_LIST = "recoveries_digest_list"
DIGEST_LIST_IN_FLIGHT = "recoveries_digest_list_in_flight"

# approvals: a request under a routing rule's policy is approved, denied (a modal for the reason)
# or withdrawn by its requester
APPROVAL_APPROVE = "approval_approve"
APPROVAL_DENY = "approval_deny"
APPROVAL_WITHDRAW = "approval_withdraw"
DENY_SUBMIT = "approval_deny_submit"
