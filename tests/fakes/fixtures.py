"""Fixtures for the fake network peers (OpenAI-compatible server, …)."""
