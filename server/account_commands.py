"""`imagehost users …` and `imagehost tokens …`: accounts from the command line.

They open the same catalog as the server, through the same store, so they work while it runs:
a password set here ends that account's sessions on every worker at once, a revoked token
stops working on the next request.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from imagehost.check_command import catalog_refusal
from imagehost.first_admin import ensure_first_admin
from imagehost.resolvers.accounts import normalise_username, token_label, username_problem
from imagehost.resolvers.passwords import hash_password_sync, password_problem
from imagehost.resolvers.secret_hashes import TOKEN_PREFIX, new_secret, secret_hash
from imagehost.settings import Settings
from imagehost.storage import (
    CatalogMissing,
    CatalogReplaced,
    ImageStore,
    StorageError,
    UserRecord,
    UsernameTaken,
    open_image_store,
)


class CommandFailed(Exception):
    """One line for stderr; exit status 1."""


def add_parsers(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `users` and `tokens` through the main parser's `add_subparsers().add_parser`."""
    users = add_parser("users", help="manage accounts (also while the server runs)")
    users_commands = users.add_subparsers(dest="action", required=True)
    add = users_commands.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="an admin (manages accounts, sees every image)")
    add.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
    users_commands.add_parser("list", help="accounts, roles, image counts and bytes")
    passwd = users_commands.add_parser("passwd", help="set a password; ends the account's sessions")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
    remove = users_commands.add_parser("remove", help="delete an account and its images")
    remove.add_argument("name")

    tokens = add_parser("tokens", help="manage API tokens (also while the server runs)")
    tokens_commands = tokens.add_subparsers(dest="action", required=True)
    create = tokens_commands.add_parser("create", help="a new token; its secret is the last line printed")
    create.add_argument("name", help="the account the token acts for")
    create.add_argument("--label", default="command line", help="what the token is for")
    listing = tokens_commands.add_parser("list", help="an account's tokens")
    listing.add_argument("name")
    revoke = tokens_commands.add_parser("revoke", help="revoke a token (it stops working at once)")
    revoke.add_argument("id")


def run_account_command(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        store = open_image_store(settings.images_dir)
    except (CatalogMissing, CatalogReplaced) as error:
        print(f"imagehost: {catalog_refusal(error, settings.images_dir)}", file=sys.stderr)
        return 1
    except StorageError as error:
        print(f"imagehost: cannot open the storage in {settings.images_dir}: {error}", file=sys.stderr)
        return 1
    try:
        # The same first-start rule as the server's: no account yet means `admin` comes first.
        ensure_first_admin(store, settings)
        handler = HANDLERS[(args.command, args.action)]
        handler(store, args, out)
        return 0
    except CommandFailed as failure:
        print(f"imagehost {args.command} {args.action}: {failure}", file=sys.stderr)
        return 1
    except StorageError as error:
        print(f"imagehost {args.command} {args.action}: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _user(store: ImageStore, name: str) -> UserRecord:
    credentials = store.accounts.credentials(normalise_username(name))
    if credentials is None:
        raise CommandFailed(f"there is no account named {name!r} (see `imagehost users list`)")
    return credentials.user


def _new_password(args: argparse.Namespace, username: str) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {username}: ")
        if getpass.getpass("Again: ") != password:
            raise CommandFailed("the two passwords differ")
    problem = password_problem(password, username)
    if problem:
        raise CommandFailed(problem)
    return password


def _users_add(store: ImageStore, args: argparse.Namespace, out: TextIO) -> None:
    name = normalise_username(args.name)
    problem = username_problem(name)
    if problem:
        raise CommandFailed(problem)
    if store.accounts.credentials(name) is not None:
        raise CommandFailed(f"there is already an account named {name!r}")
    password = _new_password(args, name)
    try:
        store.accounts.create_user(name, hash_password_sync(password), is_admin=args.admin)
    except UsernameTaken as error:
        raise CommandFailed(str(error)) from None
    print(f"created {'admin' if args.admin else 'member'} {name}", file=out)


def _users_list(store: ImageStore, args: argparse.Namespace, out: TextIO) -> None:
    rows: list[tuple[str, ...]] = [("NAME", "ROLE", "IMAGES", "BYTES", "QUOTA", "CREATED")]
    for user in store.accounts.users():
        rows.append((
            user.username,
            "admin" if user.is_admin else "member",
            str(user.image_count),
            str(user.stored_bytes),
            "-" if user.quota_bytes is None else str(user.quota_bytes),
            user.created_at.isoformat(),
        ))
    _print_table(rows, out)


def _print_table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def _users_passwd(store: ImageStore, args: argparse.Namespace, out: TextIO) -> None:
    user = _user(store, args.name)
    store.accounts.set_password(user.id, hash_password_sync(_new_password(args, user.username)))
    print(f"password of {user.username} set; its sessions have ended", file=out)


def _users_remove(store: ImageStore, args: argparse.Namespace, out: TextIO) -> None:
    user = _user(store, args.name)
    if user.is_admin and sum(other.is_admin for other in store.accounts.users()) == 1:
        raise CommandFailed(f"{user.username} is the only admin; make another admin first")
    deleted = store.remove_account(user.id)
    print(f"removed {user.username} and {deleted} images", file=out)


def _tokens_create(store: ImageStore, args: argparse.Namespace, out: TextIO) -> None:
    user = _user(store, args.name)
    secret = new_secret(TOKEN_PREFIX)
    token = store.accounts.create_token(user.id, token_label(args.label, "command line"), secret_hash(secret))
    print(f"token {token.id} ({token.label}) for {user.username}; the secret is shown once:", file=out)
    print(secret, file=out)


def _tokens_list(store: ImageStore, args: argparse.Namespace, out: TextIO) -> None:
    user = _user(store, args.name)
    rows: list[tuple[str, ...]] = [("ID", "LABEL", "CREATED", "LAST USED")]
    for token in store.accounts.tokens(user.id):
        rows.append((token.id, token.label, token.created_at.isoformat(),
                     token.last_used_at.isoformat() if token.last_used_at else "never"))
    _print_table(rows, out)


def _tokens_revoke(store: ImageStore, args: argparse.Namespace, out: TextIO) -> None:
    if not store.accounts.revoke_token(args.id, None):
        raise CommandFailed(f"there is no token with id {args.id!r} (see `imagehost tokens list NAME`)")
    print(f"revoked token {args.id}", file=out)


HANDLERS: dict[tuple[str, str], Callable[[ImageStore, argparse.Namespace, TextIO], None]] = {
    ("users", "add"): _users_add,
    ("users", "list"): _users_list,
    ("users", "passwd"): _users_passwd,
    ("users", "remove"): _users_remove,
    ("tokens", "create"): _tokens_create,
    ("tokens", "list"): _tokens_list,
    ("tokens", "revoke"): _tokens_revoke,
}
