"""Long replies as Discord messages of at most 2,000 characters, in order.

Discord refuses a message whose `content` is over 2,000 characters (counted
in Unicode code points, as Python's `len` counts). The model writes Markdown,
which Discord renders as it is, so nothing is converted: a long reply is only
cut, as `bot.split` does for every platform.
"""

from __future__ import annotations

from bot import split as splitting

#: Discord's limit on a message's content.
MAX_CHARS = 2_000


def split(text: str, limit: int = MAX_CHARS) -> list[str]:
    """`text` as messages of at most `limit` characters, in order (none when it is blank)."""
    return splitting.split(text, limit)
