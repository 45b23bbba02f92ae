"""The message sets of the job-matching evaluation, by name, and all of them together.

- ``first``: tests/bot/matching_eval_data.py, written with the matcher and
  used to tune it;
- ``second`` and ``third``: tests/bot/matching_holdout_data.py and
  matching_blind_data.py, each written blind, measured once, then used to
  tune the word groups and the scoring too;
- ``fresh``: tests/bot/matching_fresh_data.py, written blind after the last
  tuning and never used for it: the figure to expect on messages nobody
  tuned for.
"""

from __future__ import annotations

from tests.bot.matching_blind_data import BLIND
from tests.bot.matching_eval_data import CASES, Case
from tests.bot.matching_fresh_data import FRESH
from tests.bot.matching_holdout_data import HELD_OUT

SETS: dict[str, tuple[Case, ...]] = {
    "first": CASES, "second": HELD_OUT, "third": BLIND, "fresh": FRESH}
ALL: tuple[Case, ...] = CASES + HELD_OUT + BLIND + FRESH
