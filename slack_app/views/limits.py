"""Slack's limits on what a message or a modal may hold, which every view keeps to.

Slack rejects a message whose section text is over 3,000 characters, that has more than 50
blocks, whose header is over 150 characters or whose button value is over 2,000 characters;
a plain-text input holds at most 3,000 characters.
"""

SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
MAX_BLOCKS = 50
BUTTON_VALUE_LIMIT = 2000
TEXT_INPUT_LIMIT = 3000
HOME_MAX_BLOCKS = 100  # a Home tab view (views.publish) holds at most 100 blocks
