"""Load tester for the chat's model server and for the chat app itself.

``python -m backend.loadtest --help``; metric definitions and the JSON schema are in
docs/loadtest.md.
"""
