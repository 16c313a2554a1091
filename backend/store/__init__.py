"""Saved conversations: where they live, how the schema evolves, how writes stay off the
answer's path, and the pure views over a stored conversation (transcript, export).

The chat uses this package; this package never imports the chat.
"""
