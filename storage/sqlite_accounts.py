"""Accounts, sessions, API tokens and rate-limit counters in the catalog's SQLite file.

They share the catalog's file, connections and write queue (`SqliteCatalog.reading/writing`):
every worker process sees a revoked token or an ended session on its next request, and an
account's images and its quota change in one transaction. Times of sessions and attempts are
Unix seconds (compared, never shown); those the API shows are ISO 8601 text like the images'.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import UTC, datetime

from imagehost.storage.account_records import ApiTokenRecord, Credentials, TokenHolder, UserRecord
from imagehost.storage.errors import UsernameTaken
from imagehost.storage.sqlite_catalog import SqliteCatalog

ATTEMPTS_KEPT_SECONDS = 24 * 3600
"""Longer than any rate-limit window."""
USER_COLUMNS = "id, username, is_admin, created_at, quota_bytes, image_count, stored_bytes"
USER_COLUMNS_JOINED = ", ".join(f"u.{column}" for column in USER_COLUMNS.split(", "))
"""USER_COLUMNS of `users u` in a join (the session and token look-ups of every request)."""
TOKEN_COLUMNS = "id, user_id, label, created_at, last_used_at"


def _now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _user(row: sqlite3.Row) -> UserRecord:
    return UserRecord(
        id=row["id"],
        username=row["username"],
        is_admin=bool(row["is_admin"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        quota_bytes=row["quota_bytes"],
        image_count=row["image_count"],
        stored_bytes=row["stored_bytes"],
    )


def _token(row: sqlite3.Row) -> ApiTokenRecord:
    return ApiTokenRecord(
        id=row["id"],
        user_id=row["user_id"],
        label=row["label"],
        created_at=datetime.fromisoformat(row["created_at"]),
        last_used_at=datetime.fromisoformat(row["last_used_at"]) if row["last_used_at"] else None,
    )


class SqliteAccounts:
    def __init__(self, catalog: SqliteCatalog) -> None:
        self._db = catalog

    # -- accounts --------------------------------------------------------------------------

    def create_user(self, username: str, password_hash: str, *, is_admin: bool, only_if_none: bool = False) -> UserRecord | None:
        """A new account; with `only_if_none`, only while there is no account at all (the first
        admin, made by whichever worker starts first), and then it adopts every image stored
        without an owner (an install from before accounts keeps its images visible).
        None when `only_if_none` and an account exists."""
        user_id = secrets.token_urlsafe(12)
        with self._db.writing(f"could not create the account {username!r}") as connection:
            if only_if_none and connection.execute("SELECT 1 FROM users LIMIT 1").fetchone():
                return None
            if connection.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise UsernameTaken(username)
            connection.execute(
                "INSERT INTO users (id, username, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?, ?)",
                (user_id, username, password_hash, int(is_admin), _now_text()),
            )
            if only_if_none:
                connection.execute("UPDATE images SET owner_id = ? WHERE owner_id IS NULL", (user_id,))
            row = connection.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row)

    def user(self, user_id: str) -> UserRecord | None:
        with self._db.reading() as connection:
            row = connection.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def credentials(self, username: str) -> Credentials | None:
        with self._db.reading() as connection:
            row = connection.execute(
                f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?", (username,)
            ).fetchone()
        return Credentials(_user(row), row["password_hash"]) if row else None

    def password_hash(self, user_id: str) -> str | None:
        with self._db.reading() as connection:
            row = connection.execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
        return str(row[0]) if row else None

    def users(self) -> list[UserRecord]:
        with self._db.reading() as connection:
            rows = connection.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY username").fetchall()
        return [_user(row) for row in rows]

    def count_users(self) -> int:
        with self._db.reading() as connection:
            return int(connection.execute("SELECT count(*) FROM users").fetchone()[0])

    def set_password(self, user_id: str, password_hash: str) -> bool:
        """Change the hash and end every session of the account, in one transaction."""
        with self._db.writing("could not change the password") as connection:
            changed = connection.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
            ).rowcount
            connection.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        return bool(changed)

    def set_quota(self, user_id: str, quota_bytes: int | None) -> bool:
        with self._db.writing("could not set the quota") as connection:
            changed = connection.execute("UPDATE users SET quota_bytes = ? WHERE id = ?", (quota_bytes, user_id)).rowcount
        return bool(changed)

    def remove_user(self, user_id: str) -> bool:
        """Remove the account, its sessions and tokens. Its images are deleted before this (by
        ImageStore.delete_owner); one that an upload in flight added meanwhile is kept, without
        an owner, for an admin to see, rather than left as bytes nobody can reach."""
        with self._db.writing("could not remove the account") as connection:
            connection.execute("UPDATE images SET owner_id = NULL WHERE owner_id = ?", (user_id,))
            connection.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            connection.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,))
            removed = connection.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount
        return bool(removed)

    # -- sessions --------------------------------------------------------------------------

    def create_session(self, user_id: str, secret_hash: str, now: float) -> None:
        with self._db.writing("could not start the session") as connection:
            connection.execute(
                "INSERT INTO sessions (secret_hash, user_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
                (secret_hash, user_id, now, now),
            )

    def session_user(self, secret_hash: str, now: float, *, idle_seconds: float, lifetime_seconds: float,
                     touch_after: float) -> UserRecord | None:
        """The session's account, unless it ended, sat idle too long or is too old. Its last-seen
        time is written at most every `touch_after` seconds, so a busy browser costs reads only."""
        with self._db.reading() as connection:
            row = connection.execute(
                f"SELECT s.created_at AS started, s.last_seen_at AS seen, {USER_COLUMNS_JOINED}"
                " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = ?",
                (secret_hash,),
            ).fetchone()
        if row is None:
            return None
        if now - row["seen"] > idle_seconds or now - row["started"] > lifetime_seconds:
            self.end_session(secret_hash)
            return None
        if now - row["seen"] > touch_after:
            with self._db.writing("could not note the session's use") as connection:
                connection.execute("UPDATE sessions SET last_seen_at = ? WHERE secret_hash = ?", (now, secret_hash))
        return _user(row)

    def end_session(self, secret_hash: str) -> bool:
        with self._db.writing("could not end the session") as connection:
            return bool(connection.execute("DELETE FROM sessions WHERE secret_hash = ?", (secret_hash,)).rowcount)

    # -- API tokens ------------------------------------------------------------------------

    def create_token(self, user_id: str, label: str, secret_hash: str) -> ApiTokenRecord:
        token_id = secrets.token_urlsafe(9)
        with self._db.writing("could not create the token") as connection:
            connection.execute(
                "INSERT INTO api_tokens (id, user_id, label, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (token_id, user_id, label, secret_hash, _now_text()),
            )
            row = connection.execute(f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
        return _token(row)

    def tokens(self, user_id: str) -> list[ApiTokenRecord]:
        with self._db.reading() as connection:
            rows = connection.execute(
                f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id", (user_id,)
            ).fetchall()
        return [_token(row) for row in rows]

    def token_holder(self, secret_hash: str, *, touch_after: float) -> TokenHolder | None:
        """The account a token secret belongs to; `lastUsedAt` is written at most every
        `touch_after` seconds."""
        with self._db.reading() as connection:
            row = connection.execute(
                f"SELECT t.id AS token_id, t.last_used_at AS used, {USER_COLUMNS_JOINED}"
                " FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.secret_hash = ?",
                (secret_hash,),
            ).fetchone()
        if row is None:
            return None
        now = datetime.now(UTC).replace(microsecond=0)
        if row["used"] is None or (now - datetime.fromisoformat(row["used"])).total_seconds() > touch_after:
            with self._db.writing("could not note the token's use") as connection:
                connection.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now.isoformat(), row["token_id"]))
        return TokenHolder(_user(row), row["token_id"])

    def revoke_token(self, token_id: str, user_id: str | None) -> bool:
        """Remove the token (only if it is `user_id`'s, unless None: the command line's)."""
        with self._db.writing("could not revoke the token") as connection:
            if user_id is None:
                removed = connection.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,)).rowcount
            else:
                removed = connection.execute(
                    "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, user_id)
                ).rowcount
        return bool(removed)

    # -- rate limits -----------------------------------------------------------------------

    def attempts_since(self, kind: str, subject: str, since: float) -> list[float]:
        """When each attempt of this kind by this subject (an account, an address) was, oldest first."""
        with self._db.reading() as connection:
            rows = connection.execute(
                "SELECT at FROM attempts WHERE kind = ? AND subject = ? AND at > ? ORDER BY at", (kind, subject, since)
            ).fetchall()
        return [float(row[0]) for row in rows]

    def count_attempt(self, kind: str, subject: str, now: float, *, limit: int, window: float) -> int | None:
        """Record one attempt unless `limit` were made within `window` seconds: the attempt's
        number (to forget it later), or None. Count and insert are one transaction, so workers
        cannot together pass the limit."""
        with self._db.writing("could not count the attempt") as connection:
            # Older attempts are litter: this subject's past the window, and anyone's past a day
            # (subjects that never come back), so the table stays the size of the traffic.
            connection.execute("DELETE FROM attempts WHERE kind = ? AND subject = ? AND at <= ?", (kind, subject, now - window))
            connection.execute("DELETE FROM attempts WHERE at <= ?", (now - ATTEMPTS_KEPT_SECONDS,))
            made = connection.execute("SELECT count(*) FROM attempts WHERE kind = ? AND subject = ?", (kind, subject)).fetchone()[0]
            if made >= limit:
                return None
            cursor = connection.execute("INSERT INTO attempts (kind, subject, at) VALUES (?, ?, ?)", (kind, subject, now))
        return cursor.lastrowid

    def forget_attempt(self, number: int) -> None:
        with self._db.writing("could not forget the attempt") as connection:
            connection.execute("DELETE FROM attempts WHERE rowid = ?", (number,))

    def clear_attempts(self, kind: str, subject: str) -> None:
        with self._db.writing("could not clear the attempts") as connection:
            connection.execute("DELETE FROM attempts WHERE kind = ? AND subject = ?", (kind, subject))
