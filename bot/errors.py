"""Errors of the core; all derive from `config.errors.ChatjobsError`."""

from __future__ import annotations

from config.errors import ChatjobsError
from jobs_store.errors import AlreadyExists, InvalidInput, NotFound, StaleVersion, StoreError

__all__ = [
    "AlreadyExists",
    "ChatjobsError",
    "CommandError",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "StaleVersion",
    "StoreError",
]


class CommandError(ChatjobsError):
    """An admin command is malformed; the message says how to write it."""


class PermissionDenied(ChatjobsError):
    """The caller may not run this command."""
