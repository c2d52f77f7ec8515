"""The first account: made at start-up while there is none, never over the network.

Its password is IMAGEHOST_ADMIN_PASSWORD when set; otherwise a random one, printed once on the
console (never into a log) and written, readable by the owner only, beside the catalog. Every
worker runs this; the catalog lets only the first one in create the account.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from imagehost.resolvers.passwords import hash_password_sync
from imagehost.settings import Settings
from imagehost.storage import ImageStore, catalog_path

logger = logging.getLogger("imagehost.accounts")

FIRST_ADMIN = "admin"
PASSWORD_FILE = "initial-admin-password"


def ensure_first_admin(images: ImageStore, settings: Settings) -> None:
    if images.accounts.count_users():
        return
    password = str(settings.admin_password) if settings.admin_password else None
    private_dir = catalog_path(settings.images_dir).parent
    chosen = password or secrets.token_urlsafe(15)
    user = images.accounts.create_user(FIRST_ADMIN, hash_password_sync(chosen), is_admin=True, only_if_none=True)
    if user is None:  # another worker was first
        return
    if password:
        logger.info("created the first account, %s, with the password IMAGEHOST_ADMIN_PASSWORD sets", FIRST_ADMIN)
        print(f"Imagehost created the account {FIRST_ADMIN!r} with the password IMAGEHOST_ADMIN_PASSWORD sets.", flush=True)
        return
    path = private_dir / PASSWORD_FILE
    _write_private(path, chosen + "\n")
    logger.info("created the first account, %s, with a random password (printed once; also in %s)", FIRST_ADMIN, path)
    print(
        f"Imagehost created the account {FIRST_ADMIN!r} with the password {chosen}\n"
        f"(shown once; also in {path}, readable by you only). Sign in and change it.",
        flush=True,
    )


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
