"""Several chat workers behind one address: the nginx front that spreads browsers over them.

Used by start.sh when CHAT_WORKERS > 1. This package imports only the configuration.
"""
