"""The one exception root of chatjobs.

Every error we raise on purpose derives from `ChatjobsError` and carries a
message meant for the person who caused it: it names the field, limit or
thing that is wrong and, where there is one, what to do instead.
"""


class ChatjobsError(Exception):
    """Base of every chatjobs error; `str(error)` is safe to show a user."""


class ConfigError(ChatjobsError):
    """The configuration is invalid; the message names the variable."""
