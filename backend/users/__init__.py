"""Command line for the chat's accounts: ``python -m backend.users add|remove|list``."""
