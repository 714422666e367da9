"""The Slack side of recovery-ops (Bolt app, Block Kit messages, listeners)."""
