"""Qwen3 Hybrid Chat: everything behind the Chainlit hooks in app.py."""
