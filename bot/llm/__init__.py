"""Chat models: the OpenAI-compatible client and the offline model."""

from bot.llm.base import LLM, Completion, Message, ModelError, ToolCall

__all__ = ["LLM", "Completion", "Message", "ModelError", "ToolCall"]
