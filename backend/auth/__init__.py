"""Who is chatting: the one local user on a loopback address, or accounts with passwords.

`policy` decides the mode from the configuration (and refuses a network address with no
account), `users` keeps the users file, `passwords` hashes with argon2, `secret` keeps the
key Chainlit signs logins with, `login` holds what Chainlit's auth callbacks run.
"""
