"""One Chainlit chat session: handlers, turn, view, history, settings, status."""
