"""Dashboard sessions: a signed cookie (itsdangerous) carrying the user id, the user's
session epoch and a random nonce; no server-side session table.

The cookie is HttpOnly, SameSite=Lax, Secure over https, scoped to the dashboard's path
and valid for `MAX_AGE`. A session ends when its cookie is cleared (sign-out) or when the
user's session epoch in the store moves on (sign-out, a new password): every cookie
carrying the old epoch is refused. The CSRF token is an HMAC of the nonce, so it is per
session and changes at sign-in (a visitor who is not signed in has a nonce too: the
sign-in form is protected the same way).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from botwarden.errors import ConfigError
from botwarden.files import write_private

COOKIE = "bw_session"
MAX_AGE = 12 * 3600
SECRET_ENV = "BOTWARDEN_DASHBOARD_SECRET"


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str | None
    epoch: int
    nonce: str

    @classmethod
    def anonymous(cls) -> Session:
        return cls(None, 0, secrets.token_urlsafe(16))

    @classmethod
    def signed_in(cls, user_id: str, epoch: int) -> Session:
        # A fresh nonce at sign-in: a token seen before signing in is worth nothing after.
        return cls(user_id, epoch, secrets.token_urlsafe(16))


def secret_from_env(path: Path | None = None) -> bytes:
    """$BOTWARDEN_DASHBOARD_SECRET (at least 32 characters); else the secret kept in
    `path` (created, readable by its owner only, when missing), so that sessions survive
    a restart and are shared by every API process on the data directory; else a random
    secret for this process: sessions then end when the process restarts."""
    value = os.environ.get(SECRET_ENV, "")
    if value:
        if len(value) < 32:
            raise ValueError(f"{SECRET_ENV} must be at least 32 characters")
        return value.encode()
    if path is not None:
        return _secret_file(path)
    return secrets.token_bytes(32)


def _secret_file(path: Path) -> bytes:
    if not path.exists():
        # Made whole or not at all; another process that made it first wins: read below.
        write_private(path, secrets.token_hex(32) + "\n", replace=False, fsync=True)
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if len(text) < 32 or not text.isprintable():
        raise ConfigError(
            f"dashboard secret file {path}: expected one line of at least 32 printable "
            f"characters; delete the file to have a new one made (everyone signs in again), "
            f"or set {SECRET_ENV}"
        )
    return text.encode()


class Sessions:
    def __init__(self, secret: bytes, *, mount_path: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="botwarden.dashboard.session")
        self._csrf_key = hmac.new(secret, b"botwarden.dashboard.csrf", hashlib.sha256).digest()
        self.path = mount_path or "/"

    def load(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=MAX_AGE)
        except BadSignature:  # also an expired one (SignatureExpired)
            return None
        if not isinstance(data, dict):
            return None
        uid, epoch, nonce = data.get("u"), data.get("e"), data.get("n")
        if not isinstance(nonce, str) or not isinstance(epoch, int):
            return None
        if uid is not None and not isinstance(uid, str):
            return None
        return Session(uid, epoch, nonce)

    def save(self, request: Request, response: Response, session: Session) -> None:
        value = self._serializer.dumps({"u": session.user_id, "e": session.epoch,
                                        "n": session.nonce})  # fmt: skip
        response.set_cookie(
            COOKIE,
            value,
            max_age=MAX_AGE,
            path=self.path,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def clear(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE, path=self.path, httponly=True, samesite="lax",
            secure=request.url.scheme == "https",
        )  # fmt: skip

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session), str(token))
