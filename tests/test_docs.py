"""The configuration a newcomer reads names every setting chatjobs has."""

from __future__ import annotations

import re
from pathlib import Path

from config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
VARIABLES = {name.upper() for name in Settings.model_fields}


def test_env_example_documents_every_setting() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(),
                                re.M))
    assert VARIABLES - documented == set()
    assert documented - VARIABLES == set()


def test_readme_configuration_table_names_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("## Where data lives")]
    assert {v for v in VARIABLES if f"`{v}`" not in table} == set()
