"""Who counts as an admin."""

from __future__ import annotations

from collections.abc import Collection


def is_admin(user: str, *, role: str | None, admins: Collection[str]) -> bool:
    """Platform owners and admins, and users listed in CHATJOBS_ADMINS."""
    return role in ("owner", "admin") or user in admins
