"""``python -m backend.users``: add, remove and list the chat's accounts, change a password.

``add NAME`` and ``password NAME`` ask for the password twice on the terminal (never
echoed), or read one line from standard input with ``--password-stdin`` (for scripts).
A running chat applies every change at the next request: a removed account, or one whose
password changed, is signed out everywhere at once. Exit status: 0 done, 1 refused (the
message says why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from backend.auth.users import UsersFileError, add_user, list_users, remove_user, set_password
from backend.config import Config, ConfigError

RESTART_AFTER_FIRST = "This is the first account: restart the chat so that it asks for a login."
SIGNED_OUT_NOW = "Its open logins end at their next request (a running chat checks each one)."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backend.users", description="Manage the chat's accounts."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add an account (asks for its password)")
    change = commands.add_parser("password", help="change an account's password")
    for command in (add, change):
        command.add_argument("name")
        command.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
    remove = commands.add_parser("remove", help="remove an account")
    remove.add_argument("name")
    commands.add_parser("list", help="list the accounts")
    return parser


def main(
    argv: list[str] | None = None, config: Config | None = None, stdin: TextIO | None = None
) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config or Config.from_env()
        path = config.users_path
        if args.command == "list":
            names = list_users(path)
            print("\n".join(names) if names else f"No accounts in {path}.")
        elif args.command == "remove":
            remove_user(path, args.name)
            print(f"Removed {args.name} from {path}. {SIGNED_OUT_NOW}")
        elif args.command == "password":
            set_password(path, args.name, _read_password(args.password_stdin, stdin or sys.stdin))
            print(f"Changed the password of {args.name}. {SIGNED_OUT_NOW}")
        else:
            add_user(path, args.name, _read_password(args.password_stdin, stdin or sys.stdin))
            print(f"Added {args.name} to {path}.")
            if list_users(path) == [args.name] and not config.chat_password:
                print(RESTART_AFTER_FIRST)
    except (UsersFileError, ConfigError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


def _read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    if not stdin.isatty():
        raise UsersFileError("No terminal to ask for the password: use --password-stdin.")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise UsersFileError("The two passwords differ; nothing was changed.")
    return first
