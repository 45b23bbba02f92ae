"""Reading numbers typed as field values: the same rules and messages everywhere."""

from __future__ import annotations

import re

from bot.errors import InvalidInput

#: Digits 0–9 (Python's `int` also reads other scripts' digits, and refuses more than
#: 4,300 of them with an error): at most nine, with `,` or `_` between groups.
_WHOLE = re.compile(r"^[0-9](?:[,_]?[0-9]){0,8}$")


def whole(value: str, *, field: str, low: int, high: int) -> int:
    """`value` as a whole number from `low` to `high`, else `InvalidInput` naming `field`."""
    text = value.strip()
    number = int(text.replace(",", "").replace("_", "")) if _WHOLE.match(text) else None
    if number is None or not low <= number <= high:
        raise InvalidInput(field, f"a whole number from {low:,} to {high:,} (you gave "
                                  f"'{value[:40]}{'…' if len(value) > 40 else ''}')")
    return number


def version(value: str | None) -> int | None:
    """The `version=<n>` an edit is based on (None when not given)."""
    if value is None:
        return None
    try:
        return whole(value, field="version", low=1, high=999_999_999)
    except InvalidInput:
        raise InvalidInput("version", "must be the whole number of the version you are "
                                      "editing") from None
