"""Settings, logging set-up and the Slack app manifest."""

from config.errors import ChatjobsError, ConfigError
from config.settings import Settings, load_settings

__all__ = ["ChatjobsError", "ConfigError", "Settings", "load_settings"]
