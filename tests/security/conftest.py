"""The security tests run the real CLI too (`cli`, as the end-to-end tests do)."""

from tests.integration.conftest import cli

__all__ = ["cli"]
