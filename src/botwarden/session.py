"""The `__cf_bm` session cookie: one browser session, sealed with AES-GCM.

The cookie holds a random session id, when the session was first and last seen, request
counters and the highest Machine Learning score the session earned. It is encrypted and
authenticated (AES-256-GCM) under the current key of a `SessionKeys` ring; older keys
still open cookies, so keys rotate without logging anyone out. A session idle for more than
`max_idle` (30 minutes) is over. A cookie that does not open (tampered, foreign, from a
dropped key) or has expired is ignored — the request is scored as if it had none — and
counted in `SessionCodec.stats`.

Score smoothing: a real user's session (no request of it scored 1) that once earned a high
Machine Learning score keeps a request that scores lower from falling far: the score is
raised halfway to the session's highest. Sure verdicts (heuristics, verified bots) are
never changed. `suppress_session_score` turns tracking and smoothing off.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import struct
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from botwarden.errors import ConfigError
from botwarden.files import write_private
from botwarden.result import ScoreSource

if TYPE_CHECKING:
    from botwarden.result import BotManagement

COOKIE_NAME = "__cf_bm"
MAX_IDLE = 30 * 60
KEY_BYTES = 32

_VERSION = 1
_KEY_ID = 4
_NONCE = 12
_TAG = 16
# session id, first seen, last seen, requests, requests scored 1, highest ML score
_PAYLOAD = struct.Struct(">16sddIIB")
_HEADER = 1 + _KEY_ID + _NONCE
_SEALED_LEN = _HEADER + _PAYLOAD.size + _TAG
# base64url without padding of _SEALED_LEN bytes; anything else is refused before decoding.
_TEXT_LEN = (_SEALED_LEN * 4 + 2) // 3
_CLOCK_SKEW = 60.0


def key_id(key: bytes) -> bytes:
    """The 4 bytes that name a key inside a cookie (a hash: the key itself never shows)."""
    return hashlib.sha256(b"botwarden-session-key\x00" + key).digest()[:_KEY_ID]


class SessionKeys:
    """A key ring: the first key seals new cookies, every key opens them."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("session keys: at least one key is needed")
        bad = [i for i, k in enumerate(keys) if len(k) != KEY_BYTES]
        if bad:
            raise ConfigError(
                f"session keys: key(s) {', '.join(str(i + 1) for i in bad)} are not "
                f"{KEY_BYTES} bytes"
            )
        self.keys = tuple(keys)
        self.current_id = key_id(keys[0])
        self.current = AESGCM(keys[0])
        self.by_id: dict[bytes, AESGCM] = {}
        for k in keys:
            self.by_id.setdefault(key_id(k), AESGCM(k))

    @classmethod
    def generate(cls) -> SessionKeys:
        return cls([secrets.token_bytes(KEY_BYTES)])

    def rotated(self, keep: int = 2) -> SessionKeys:
        """A ring with a new current key, keeping the `keep` most recent old keys."""
        if keep < 0:
            raise ValueError("keep must be >= 0")
        return SessionKeys([secrets.token_bytes(KEY_BYTES), *self.keys[:keep]])

    def dump(self) -> str:
        """One base64url key per line, the current key first (the key file's format)."""
        return "".join(base64.urlsafe_b64encode(k).decode() + "\n" for k in self.keys)

    @classmethod
    def parse(cls, text: str, source: str = "session keys") -> SessionKeys:
        keys, problems = [], []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                keys.append(
                    base64.b64decode(line + "=" * (-len(line) % 4), altchars=b"-_", validate=True)
                )
            except (binascii.Error, ValueError):
                problems.append(f"line {n} is not base64")
        if problems:
            raise ConfigError(f"{source}: " + "; ".join(problems))
        if not keys:
            raise ConfigError(f"{source}: no key found")
        try:
            return cls(keys)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, create: bool = False) -> SessionKeys:
        """Read a key file; with `create`, write a new one (mode 0600) when it is missing.
        Edges starting at once on an empty data directory all end up with the same ring:
        the first to create the file wins, the others read it."""
        p = Path(path)
        if not p.exists():
            if not create:
                raise ConfigError(f"session key file {p}: no such file")
            ring = cls.generate()
            if ring.write(p, replace=False):
                return ring
        return cls.parse(p.read_text(encoding="ascii"), f"session key file {p}")

    def write(self, path: str | os.PathLike[str], *, replace: bool = True) -> bool:
        """Write atomically with mode 0600 (`files.write_private`; `replace=False`: only
        when there is no file yet, False when another process made one first)."""
        return write_private(path, self.dump(), replace=replace, encoding="ascii")


@dataclass(slots=True)
class Session:
    """One session as the cookie carries it (mutable: the edge updates it per request)."""

    id: str
    first_seen: float
    last_seen: float
    requests: int = 0
    automated: int = 0
    """Requests of this session scored 1 (heuristics or a verified bot)."""
    highest_score: int = 0
    """Highest Machine Learning score seen (0: none, or tracking suppressed)."""
    new: bool = False

    @classmethod
    def start(cls, now: float) -> Session:
        return cls(secrets.token_hex(16), now, now, new=True)


def smooth(score: int, highest: int) -> int:
    """Raise `score` halfway towards the session's `highest` (never lowers it)."""
    if highest <= score:
        return score
    return score + (highest - score + 1) // 2


class SessionCodec:
    """Seal and open session cookies; `stats` counts what was seen.

    `stats` keys: issued (new sessions), valid, tampered (did not open: forged, corrupt, a
    dropped key), expired (idle past `max_idle`).
    """

    def __init__(
        self,
        keys: SessionKeys,
        *,
        cookie_name: str = COOKIE_NAME,
        max_idle: float = MAX_IDLE,
        cache_size: int = 4096,
    ) -> None:
        self.keys = keys
        self.cookie_name = cookie_name
        self.max_idle = max_idle
        self._aad_prefix = cookie_name.encode() + b"\x00"
        self.stats: Counter[str] = Counter()
        # The ML feature extractor asks about the same value the edge just opened.
        self._opened: OrderedDict[str, Session | None] = OrderedDict()
        self._cache_size = cache_size

    # -- sealing --------------------------------------------------------------------------

    def encode(self, s: Session) -> str:
        payload = _PAYLOAD.pack(
            bytes.fromhex(s.id),
            s.first_seen,
            s.last_seen,
            min(s.requests, 0xFFFFFFFF),
            min(s.automated, 0xFFFFFFFF),
            max(0, min(s.highest_score, 99)),
        )
        header = bytes((_VERSION,)) + self.keys.current_id + secrets.token_bytes(_NONCE)
        sealed = self.keys.current.encrypt(header[5:], payload, self._aad_prefix + header[:5])
        return base64.urlsafe_b64encode(header + sealed).rstrip(b"=").decode("ascii")

    def _open(self, value: str) -> Session | None:
        """The session in `value`, or None when it does not open (no expiry check)."""
        if len(value) != _TEXT_LEN:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _SEALED_LEN or raw[0] != _VERSION:
            return None
        aead = self.keys.by_id.get(raw[1:5])
        if aead is None:
            return None
        try:
            payload = aead.decrypt(raw[5:_HEADER], raw[_HEADER:], self._aad_prefix + raw[:5])
        except InvalidTag:
            return None
        sid, first, last, requests, automated, highest = _PAYLOAD.unpack(payload)
        return Session(sid.hex(), first, last, requests, automated, highest)

    def _cached_open(self, value: str) -> Session | None:
        cache = self._opened
        if value in cache:
            cache.move_to_end(value)
            found = cache[value]
        else:
            found = self._open(value)
            cache[value] = found
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
        if found is None:
            return None
        # A copy: callers mutate sessions.
        return Session(
            found.id,
            found.first_seen,
            found.last_seen,
            found.requests,
            found.automated,
            found.highest_score,
        )

    def decode(self, value: str | None, now: float) -> Session | None:
        """The live session in a cookie value, or None (counted: tampered or expired)."""
        if not value:
            return None
        s = self._cached_open(value)
        if s is None:
            self.stats["tampered"] += 1
            return None
        if now - s.last_seen > self.max_idle or s.last_seen - now > _CLOCK_SKEW:
            self.stats["expired"] += 1
            return None
        self.stats["valid"] += 1
        return s

    def begin(self, value: str | None, now: float) -> Session:
        """The request's session: the cookie's if it is live, else a new one."""
        s = self.decode(value, now)
        if s is None:
            s = Session.start(now)
            self.stats["issued"] += 1
        return s

    # -- for the ML feature extractor (`ml.features.FeatureConfig`) ----------------------

    def is_valid(self, value: str) -> bool:
        """Whether the cookie opens (expiry is the edge's concern, not a feature's)."""
        return self._cached_open(value) is not None

    def session_id(self, value: str) -> str | None:
        s = self._cached_open(value)
        return None if s is None else s.id

    # -- the session score ----------------------------------------------------------------

    @staticmethod
    def observe(s: Session, bm: BotManagement, now: float, *, suppress: bool = False) -> None:
        """Count the request in its session, and smooth its score (see the module doc).

        Smoothing reads the session as it was before this request; `bm.score` is changed
        in place when smoothing applies."""
        raw = bm.score
        ml = bm.score_src == ScoreSource.MACHINE_LEARNING
        if raw == 1:
            s.automated += 1
        if not suppress and ml:
            if s.automated == 0 and s.highest_score > raw:
                bm.score = smooth(raw, s.highest_score)
            if raw > s.highest_score:
                s.highest_score = raw
        s.requests += 1
        s.last_seen = now

    def set_cookie(self, s: Session, *, secure: bool) -> str:
        """The Set-Cookie value that carries `s`, valid for `max_idle` seconds."""
        same_site = "None; Secure" if secure else "Lax"
        return (
            f"{self.cookie_name}={self.encode(s)}; Path=/; Max-Age={int(self.max_idle)}; "
            f"HttpOnly; SameSite={same_site}"
        )


def keys_from(values: Iterable[str]) -> SessionKeys:
    """Keys given as base64url strings (settings, tests)."""
    return SessionKeys.parse("\n".join(values))
