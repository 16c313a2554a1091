"""Who is chatting: the one local user on a loopback address, or accounts with passwords.

`policy` decides the mode from the configuration (and refuses a network address with no
account), `users` keeps the users file, `passwords` hashes with argon2, `secret` keeps the
key Chainlit signs logins with, `stamps` ties each login to its account's current password
(a removed or re-passworded account is signed out at once), `revocation` checks that stamp
on every route and socket event, `hooks` holds what Chainlit's auth callbacks run,
`local_cookie` signs the page in for the local user, `guard` adds the ownership checks
Chainlit's own routes lack, `client` signs programs in (load tester, tests), `cli` is
``python -m backend.users``.
"""
