"""Errors the stores raise; each message is fit to show the admin."""

from __future__ import annotations

from config.errors import ChatjobsError


class StoreError(ChatjobsError):
    """Base of store errors."""


class StoreUnavailable(StoreError):
    """Redis cannot be reached or started."""


class NotFound(StoreError):
    """No job, bot or version by that name or id."""


class AlreadyExists(StoreError):
    """A name that must be unique is taken."""


class StaleVersion(StoreError):
    """An edit was based on a version someone else has replaced since."""


class InvalidInput(StoreError):
    """A value breaks a field's rule; `field` names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message
