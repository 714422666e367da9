# against the embedded moto stack of `make demo`: a few orders pause, their messages reach
# SLACK_CHANNEL, and clicking there resumes or compensates these local executions
SLACK_BOT_TOKEN=xoxb-… SLACK_APP_TOKEN=xapp-… SLACK_CHANNEL=C0123 .venv/bin/recovery-ops serve --local
# against a deployed stack (your AWS credentials; SLACK_ALLOWED_USER_IDS as on AWS)
RECOVERIES_TABLE_NAME=… SLACK_ALLOWED_USER_IDS=U012AB3CD SLACK_BOT_TOKEN=… SLACK_APP_TOKEN=… .venv/bin/recovery-ops serve
