"""The configuration store: every read and write of accounts, users, tokens, zones, bot
settings, rulesets, lists, feedback reports and model versions goes through `Store`.

Methods take and return the plain records of `records.py` (never ORM objects), each in its
own transaction; a change that edges care about bumps the configuration version in the
same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from botwarden.store import db
from botwarden.store.models import (
    AccountRow,
    BotSettingsRow,
    ConfigVersionRow,
    FeedbackRow,
    ListItemRow,
    ListRow,
    MembershipRow,
    ModelVersionRow,
    RuleRow,
    RulesetRow,
    TokenRow,
    UserRow,
    ZoneRow,
    utcnow,
)
from botwarden.store.records import (
    SETTING_FIELDS,
    Account,
    BotSettings,
    Conflict,
    FeedbackInput,
    FeedbackReport,
    FeedbackStatus,
    FeedbackType,
    Grant,
    ListItem,
    ModelVersion,
    NamedListRecord,
    NotFound,
    Plan,
    RuleInput,
    Ruleset,
    StoredRule,
    Token,
    User,
    Zone,
)

_HEX32 = re.compile(r"[0-9a-f]{32}")
MIN_SECRET_LENGTH = 32
_T = TypeVar("_T")


def new_id() -> str:
    return uuid.uuid4().hex


def check_id(value: str, what: str) -> str:
    """A 32-hex identifier (Cloudflare's shape), lower-cased; ValueError otherwise."""
    v = value.strip().lower()
    if not _HEX32.fullmatch(v):
        raise ValueError(f"{what} id must be 32 hexadecimal digits, not {value!r}")
    return v


def generate_key() -> str:
    """A new global API key: 37 lower-case hex digits, like Cloudflare's."""
    return secrets.token_hex(19)[:37]


def generate_token() -> str:
    """A new API token: 40 URL-safe characters (240 bits)."""
    return secrets.token_urlsafe(30)


def _key_digest(salt: str, key: str) -> str:
    return hmac.new(bytes.fromhex(salt), key.encode("utf-8"), hashlib.sha256).hexdigest()


def token_digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _check_secret(value: str, what: str) -> None:
    # Keys and tokens are stored under a fast digest, which is only safe for random,
    # high-entropy secrets; a short, chosen one would be open to offline guessing.
    if len(value) < MIN_SECRET_LENGTH or not value.isascii() or not value.isprintable():
        raise ValueError(f"{what} must be at least {MIN_SECRET_LENGTH} printable ASCII characters")


# An HMAC over a fixed salt, computed when the e-mail is unknown so that a wrong e-mail
# and a wrong key take the same time.
_DUMMY_SALT = "00" * 16


# Dashboard passwords: scrypt (stdlib), n=2^14, r=8, p=1 — about 16 MiB and tens of
# milliseconds per check, stored as "scrypt$n$r$p$salt$hash" so the cost can be raised
# later without invalidating stored hashes.
_SCRYPT = (1 << 14, 8, 1)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


def check_password_rules(password: str) -> None:
    """ValueError saying what to change, for a password the dashboard would refuse."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise ValueError("a password must not start or end with spaces")


def hash_password(password: str) -> str:
    n, r, p = _SCRYPT
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches the stored hash; with no hash (None), one dummy scrypt
    runs so that an unknown user and a wrong password take the same time."""
    n, r, p = _SCRYPT
    salt, want = b"\0" * 16, b""
    if stored:
        try:
            kind, n_s, r_s, p_s, salt_hex, hash_hex = stored.split("$")
            if kind != "scrypt":
                raise ValueError(kind)
            n, r, p = int(n_s), int(r_s), int(p_s)
            salt, want = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
        except ValueError:
            salt, want = b"\0" * 16, b""
    got = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=len(want) or 32,
        maxmem=256 * 1024 * 1024,
    )
    return bool(want) and hmac.compare_digest(got, want)


_MISSING = object()


class _ReadCache:
    """Hot reads (credentials, zones, settings, the promoted model, lists) kept in memory
    and dropped whenever the configuration version moves. Every change to what is cached
    bumps the version in its own transaction, so checking the version (one indexed read)
    before answering from memory is as fresh as reading the rows — in this process and
    across processes sharing the database."""

    def __init__(self, engine: Engine, max_entries: int = 50_000) -> None:
        self.engine = engine
        self.max_entries = max_entries
        self.version = -1
        self.data: dict[tuple[str, ...], object] = {}
        self.lock = threading.Lock()

    def current_version(self) -> int:
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            try:
                cur.execute("SELECT version FROM config_version WHERE id = 1")
                row = cur.fetchone()
            finally:
                cur.close()
            if self.engine.dialect.name != "sqlite":
                conn.rollback()  # end the snapshot so the next check sees new commits
        finally:
            conn.close()
        return int(row[0]) if row else 0

    def get(self, key: tuple[str, ...], load: Callable[[], _T], *, keep_none: bool = True) -> _T:
        version = self.current_version()
        with self.lock:
            if version != self.version:
                self.data.clear()
                self.version = version
            found = self.data.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        value = load()
        with self.lock:
            # Loaded at or after `version`: if the version moved meanwhile, the next
            # check drops it anyway.
            keep = value is not None or keep_none
            if keep and self.version == version and len(self.data) < self.max_entries:
                self.data[key] = value
        return value


class Store:
    """The configuration store over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write_engine = engine.execution_options(botwarden_write=True)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._cache = _ReadCache(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read.begin() as s:
            yield s

    @contextmanager
    def writing(self) -> Iterator[Session]:
        with self._write.begin() as s:
            yield s

    # -- configuration version --------------------------------------------------------

    def config_version(self) -> int:
        """The counter edges watch: it grows with every change to what they serve."""
        with self.reading() as s:
            return int(
                s.scalar(select(ConfigVersionRow.version).where(ConfigVersionRow.id == 1)) or 0
            )

    @staticmethod
    def _bump(s: Session) -> None:
        s.execute(
            update(ConfigVersionRow)
            .where(ConfigVersionRow.id == 1)
            .values(version=ConfigVersionRow.version + 1)
        )

    # -- accounts and users -------------------------------------------------------------

    def create_account(self, name: str, *, id: str | None = None) -> Account:
        aid = check_id(id, "account") if id else new_id()
        if not name.strip():
            raise ValueError("an account needs a name")
        row = AccountRow(id=aid, name=name.strip(), created_on=utcnow())
        with self._unique(f"account {aid} already exists"), self.writing() as s:
            s.add(row)
        return _account(row)

    def get_account(self, account_id: str) -> Account:
        with self.reading() as s:
            row = s.get(AccountRow, account_id)
            if row is None:
                raise NotFound(f"account {account_id} not found")
            return _account(row)

    def list_accounts(self, ids: Collection[str] | None = None) -> list[Account]:
        q = select(AccountRow).order_by(AccountRow.name, AccountRow.id)
        if ids is not None:
            q = q.where(AccountRow.id.in_(list(ids)))
        with self.reading() as s:
            return [_account(r) for r in s.scalars(q)]

    def create_user(
        self,
        email: str,
        key: str | None = None,
        *,
        id: str | None = None,
        is_admin: bool = False,
        account_ids: Sequence[str] = (),
    ) -> tuple[User, str]:
        """A user and their global API key (generated unless given); returns the key once."""
        uid = check_id(id, "user") if id else new_id()
        email = email.strip().lower()
        if "@" not in email or len(email) > 320:
            raise ValueError(f"{email!r} is not an e-mail address")
        if key is None:
            key = generate_key()
        _check_secret(key, "an API key")
        salt = secrets.token_hex(16)
        row = UserRow(
            id=uid,
            email=email,
            key_salt=salt,
            key_hash=_key_digest(salt, key),
            is_admin=is_admin,
            created_on=utcnow(),
        )
        with self._unique(f"user {email} or id {uid} already exists"), self.writing() as s:
            s.add(row)
            s.flush()
            for aid in account_ids:
                if s.get(AccountRow, aid) is None:
                    raise NotFound(f"account {aid} not found")
                s.add(MembershipRow(account_id=aid, user_id=uid))
            self._bump(s)
        return self.get_user(uid), key

    def add_member(self, account_id: str, user_id: str) -> None:
        with self._unique("already a member"), self.writing() as s:
            if s.get(AccountRow, account_id) is None:
                raise NotFound(f"account {account_id} not found")
            if s.get(UserRow, user_id) is None:
                raise NotFound(f"user {user_id} not found")
            s.add(MembershipRow(account_id=account_id, user_id=user_id))
            self._bump(s)

    def get_user(self, user_id: str) -> User:
        return self._cache.get(("user", user_id), lambda: self._load_user(user_id))

    def _load_user(self, user_id: str) -> User:
        with self.reading() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise NotFound(f"user {user_id} not found")
            return _user(row, _accounts_of(s, row.id))

    def find_user(self, email: str) -> User:
        with self.reading() as s:
            row = s.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
            if row is None:
                raise NotFound(f"user {email} not found")
            return _user(row, _accounts_of(s, row.id))

    def authenticate_key(self, email: str, key: str) -> User | None:
        """The user whose global key this is, compared in constant time; None otherwise."""
        email = email.strip().lower()
        return self._cache.get(
            ("key", email, token_digest(key)),
            lambda: self._check_key(email, key),
            keep_none=False,
        )

    def _check_key(self, email: str, key: str) -> User | None:
        with self.reading() as s:
            row = s.scalar(select(UserRow).where(UserRow.email == email))
            if row is None:
                hmac.compare_digest(_key_digest(_DUMMY_SALT, key), "0" * 64)
                return None
            if not hmac.compare_digest(_key_digest(row.key_salt, key), row.key_hash):
                return None
            return _user(row, _accounts_of(s, row.id))

    # -- dashboard sign-in ---------------------------------------------------------------

    def set_password(self, user_id: str, password: str) -> None:
        """Set or replace the user's dashboard password; every dashboard session of the
        user ends (the session epoch moves). ValueError for a password that is refused."""
        check_password_rules(password)
        digest = hash_password(password)
        with self.writing() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise NotFound(f"user {user_id} not found")
            row.password_hash = digest
            row.session_epoch = row.session_epoch + 1

    def check_password(self, email: str, password: str) -> tuple[User, int] | None:
        """(user, session epoch) when the e-mail and password match; None otherwise (also
        for a user without a password), in about the same time either way."""
        with self.reading() as s:
            row = s.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
            found = None if row is None else (_user(row, _accounts_of(s, row.id)), row)
        # scrypt runs outside the transaction: it holds no connection for its ~50 ms.
        stored = None if found is None else found[1].password_hash
        if not verify_password(password, stored) or found is None:
            return None
        return found[0], found[1].session_epoch

    def session_epoch(self, user_id: str) -> int | None:
        """The user's current session epoch (None: no such user, or no password)."""
        with self.reading() as s:
            row = s.execute(
                select(UserRow.session_epoch, UserRow.password_hash).where(UserRow.id == user_id)
            ).first()
        if row is None or row[1] is None:
            return None
        return int(row[0])

    def end_sessions(self, user_id: str) -> None:
        """Sign the user out of every dashboard session."""
        with self.writing() as s:
            s.execute(
                update(UserRow)
                .where(UserRow.id == user_id)
                .values(session_epoch=UserRow.session_epoch + 1)
            )

    # -- API tokens ---------------------------------------------------------------------

    def create_token(
        self,
        user_id: str,
        name: str,
        grants: Sequence[Grant],
        *,
        value: str | None = None,
        id: str | None = None,
        not_before: datetime | None = None,
        expires_on: datetime | None = None,
    ) -> tuple[Token, str]:
        """A token for a user; returns the token value once (only its digest is kept)."""
        tid = check_id(id, "token") if id else new_id()
        if value is None:
            value = generate_token()
        _check_secret(value, "an API token")
        if not grants or not all(g.permissions and (g.account_ids or g.zone_ids) for g in grants):
            raise ValueError(
                "a token needs at least one grant of permissions over accounts or zones"
            )
        now = utcnow()
        row = TokenRow(
            id=tid,
            user_id=user_id,
            name=name.strip() or tid,
            token_hash=token_digest(value),
            status="active",
            grants=[g.to_json() for g in grants],
            not_before=not_before,
            expires_on=expires_on,
            issued_on=now,
            modified_on=now,
        )
        with (
            self._unique(f"token {tid} (or the same token value) already exists"),
            self.writing() as s,
        ):
            if s.get(UserRow, user_id) is None:
                raise NotFound(f"user {user_id} not found")
            s.add(row)
            self._bump(s)
        return _token(row), value

    def authenticate_token(self, value: str) -> Token | None:
        """The token with this value (whatever its status or validity window), or None."""
        found = self.token_and_owner(value)
        return None if found is None else found[0]

    def token_and_owner(self, value: str) -> tuple[Token, User] | None:
        """The token with this value and the user it belongs to, or None."""
        digest = token_digest(value)

        def load() -> tuple[Token, User] | None:
            token = self._check_token(digest)
            return None if token is None else (token, self._load_user(token.user_id))

        return self._cache.get(("token", digest), load, keep_none=False)

    def _check_token(self, digest: str) -> Token | None:
        with self.reading() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.token_hash == digest))
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                return None
            return _token(row)

    def get_token(self, token_id: str) -> Token:
        with self.reading() as s:
            row = s.get(TokenRow, token_id)
            if row is None:
                raise NotFound(f"token {token_id} not found")
            return _token(row)

    def set_token_status(self, token_id: str, status: str) -> Token:
        if status not in ("active", "disabled"):
            raise ValueError("a token's status is active or disabled")
        with self.writing() as s:
            row = s.get(TokenRow, token_id)
            if row is None:
                raise NotFound(f"token {token_id} not found")
            row.status = status
            row.modified_on = utcnow()
            self._bump(s)
            return _token(row)

    # -- zones --------------------------------------------------------------------------

    def create_zone(
        self, account_id: str, name: str, plan: Plan | str = Plan.FREE, *, id: str | None = None
    ) -> Zone:
        zid = check_id(id, "zone") if id else new_id()
        name = name.strip().lower().rstrip(".")
        if not name or len(name) > 253 or " " in name:
            raise ValueError(f"{name!r} is not a zone name")
        plan = Plan(plan)
        now = utcnow()
        with self._unique(f"zone {zid} or {name} already exists"), self.writing() as s:
            if s.get(AccountRow, account_id) is None:
                raise NotFound(f"account {account_id} not found")
            s.add(
                ZoneRow(
                    id=zid,
                    account_id=account_id,
                    name=name,
                    plan=plan.value,
                    status="active",
                    created_on=now,
                    modified_on=now,
                )
            )
            s.flush()
            s.add(_settings_row(BotSettings(zone_id=zid), now))
            self._bump(s)
        return self.get_zone(zid)

    def get_zone(self, zone_id: str) -> Zone:
        return self._cache.get(("zone", zone_id), lambda: self._load_zone(zone_id))

    def _load_zone(self, zone_id: str) -> Zone:
        with self.reading() as s:
            row = s.execute(_zone_query().where(ZoneRow.id == zone_id)).first()
            if row is None:
                raise NotFound(f"zone {zone_id} not found")
            return _zone(row[0], row[1])

    def list_zones(
        self,
        *,
        account_ids: Collection[str] | None = None,
        zone_ids: Collection[str] | None = None,
        name: str | None = None,
        within_accounts: Collection[str] | None = None,
        page: int = 1,
        per_page: int = 20,
    ) -> tuple[list[Zone], int]:
        """Zones in the given accounts or with the given ids (both None: every zone),
        and in any case only zones of `within_accounts` when it is given."""
        q = _zone_query()
        if within_accounts is not None:
            q = q.where(ZoneRow.account_id.in_(list(within_accounts)))
        if account_ids is not None or zone_ids is not None:
            q = q.where(
                or_(
                    ZoneRow.account_id.in_(list(account_ids or ())),
                    ZoneRow.id.in_(list(zone_ids or ())),
                )
            )
        if name:
            q = q.where(ZoneRow.name == name.strip().lower())
        return self._page(q.order_by(ZoneRow.name, ZoneRow.id), page, per_page, _zone)

    def set_zone_plan(self, zone_id: str, plan: Plan | str) -> Zone:
        plan = Plan(plan)
        with self.writing() as s:
            row = s.get(ZoneRow, zone_id)
            if row is None:
                raise NotFound(f"zone {zone_id} not found")
            row.plan = plan.value
            row.modified_on = utcnow()
            self._bump(s)
        return self.get_zone(zone_id)

    # -- bot management settings ----------------------------------------------------------

    def get_settings(self, zone_id: str) -> BotSettings:
        return self._cache.get(("settings", zone_id), lambda: self._load_settings(zone_id))

    def _load_settings(self, zone_id: str) -> BotSettings:
        with self.reading() as s:
            row = s.get(BotSettingsRow, zone_id)
            if row is None:
                raise NotFound(f"zone {zone_id} not found")
            return _settings(row)

    def update_settings(self, zone_id: str, changes: Mapping[str, Any]) -> BotSettings:
        unknown = set(changes) - set(SETTING_FIELDS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        with self.writing() as s:
            row = s.get(BotSettingsRow, zone_id)
            if row is None:
                raise NotFound(f"zone {zone_id} not found")
            pin = changes.get("model_pin")
            if pin is not None and s.get(ModelVersionRow, pin) is None:
                raise NotFound(f"model version {pin} not found")
            for k, v in changes.items():
                setattr(row, k, v)
            row.modified_on = utcnow()
            self._bump(s)
            return _settings(row)

    # -- rulesets -----------------------------------------------------------------------

    def list_rulesets(self, zone_id: str) -> list[Ruleset]:
        with self.reading() as s:
            rows = s.scalars(
                select(RulesetRow).where(RulesetRow.zone_id == zone_id).order_by(RulesetRow.phase)
            ).all()
            return [_ruleset(s, r) for r in rows]

    def get_ruleset(self, zone_id: str, ruleset_id: str) -> Ruleset:
        with self.reading() as s:
            row = s.get(RulesetRow, ruleset_id)
            if row is None or row.zone_id != zone_id:
                raise NotFound(f"ruleset {ruleset_id} not found")
            return _ruleset(s, row)

    def get_phase_ruleset(self, zone_id: str, phase: str) -> Ruleset:
        with self.reading() as s:
            row = s.scalar(
                select(RulesetRow).where(RulesetRow.zone_id == zone_id, RulesetRow.phase == phase)
            )
            if row is None:
                raise NotFound(f"zone {zone_id} has no entrypoint ruleset for phase {phase}")
            return _ruleset(s, row)

    def put_phase_ruleset(
        self,
        zone_id: str,
        phase: str,
        rules: Sequence[RuleInput],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Ruleset:
        """Create or replace a phase's entrypoint ruleset; rules keep their ids when given."""
        now = utcnow()
        with self._unique("the ruleset was created concurrently; retry"), self.writing() as s:
            if s.get(ZoneRow, zone_id) is None:
                raise NotFound(f"zone {zone_id} not found")
            rs = s.scalar(
                select(RulesetRow).where(RulesetRow.zone_id == zone_id, RulesetRow.phase == phase)
            )
            if rs is None:
                rs = RulesetRow(
                    id=new_id(),
                    zone_id=zone_id,
                    phase=phase,
                    name=name or "default",
                    description=description or "",
                    version=0,
                    last_updated=now,
                )
                s.add(rs)
                s.flush()
            old = {r.id: r for r in _rule_rows(s, rs.id)}
            ids = [r.id for r in rules if r.id]
            if len(ids) != len(set(ids)):
                raise Conflict("a rule id appears twice in the ruleset")
            for rid in ids:
                if rid not in old and s.get(RuleRow, rid) is not None:
                    raise Conflict(f"rule {rid} belongs to another ruleset")
            keep = set(ids)
            for rid, row in old.items():
                if rid not in keep:
                    s.delete(row)
            s.flush()
            for pos, r in enumerate(rules):
                _store_rule(s, rs.id, pos, r, old.get(r.id or ""), now)
            if name is not None:
                rs.name = name
            if description is not None:
                rs.description = description
            rs.version += 1
            rs.last_updated = now
            self._bump(s)
            s.flush()
            return _ruleset(s, rs)

    def add_rule(
        self, zone_id: str, ruleset_id: str, rule: RuleInput, position: int | None = None
    ) -> Ruleset:
        """Insert a rule at `position` (0-based; None appends)."""
        now = utcnow()
        with self.writing() as s:
            rs = _ruleset_row(s, zone_id, ruleset_id)
            rows = list(_rule_rows(s, rs.id))
            pos = len(rows) if position is None else max(0, min(position, len(rows)))
            if rule.id and s.get(RuleRow, rule.id) is not None:
                raise Conflict(f"rule {rule.id} already exists")
            for i, row in enumerate(rows):
                row.position = i if i < pos else i + 1
            _store_rule(s, rs.id, pos, rule, None, now)
            rs.version += 1
            rs.last_updated = now
            self._bump(s)
            s.flush()
            return _ruleset(s, rs)

    def update_rule(
        self,
        zone_id: str,
        ruleset_id: str,
        rule_id: str,
        rule: RuleInput,
        position: int | None = None,
    ) -> Ruleset:
        now = utcnow()
        with self.writing() as s:
            rs = _ruleset_row(s, zone_id, ruleset_id)
            rows = list(_rule_rows(s, rs.id))
            current = next((r for r in rows if r.id == rule_id), None)
            if current is None:
                raise NotFound(f"rule {rule_id} not found in ruleset {ruleset_id}")
            _store_rule(s, rs.id, current.position, replace(rule, id=rule_id), current, now)
            if position is not None:
                others = [r for r in rows if r.id != rule_id]
                pos = max(0, min(position, len(others)))
                others.insert(pos, current)
                for i, row in enumerate(others):
                    row.position = i
            rs.version += 1
            rs.last_updated = now
            self._bump(s)
            s.flush()
            return _ruleset(s, rs)

    def delete_rule(self, zone_id: str, ruleset_id: str, rule_id: str) -> Ruleset:
        now = utcnow()
        with self.writing() as s:
            rs = _ruleset_row(s, zone_id, ruleset_id)
            rows = list(_rule_rows(s, rs.id))
            if not any(r.id == rule_id for r in rows):
                raise NotFound(f"rule {rule_id} not found in ruleset {ruleset_id}")
            for row in rows:
                if row.id == rule_id:
                    s.delete(row)
            s.flush()
            for i, row in enumerate(r for r in rows if r.id != rule_id):
                row.position = i
            rs.version += 1
            rs.last_updated = now
            self._bump(s)
            s.flush()
            return _ruleset(s, rs)

    def set_rules_compiled(self, flags: Mapping[str, bool]) -> None:
        """Record whether stored rules still compile (after an upgrade of the rules
        language, say); edges skip rules whose flag is false."""
        with self.writing() as s:
            for rid, ok in flags.items():
                s.execute(update(RuleRow).where(RuleRow.id == rid).values(compiled_ok=ok))
            self._bump(s)

    # -- lists --------------------------------------------------------------------------

    def create_list(
        self, account_id: str, name: str, kind: str, description: str = ""
    ) -> NamedListRecord:
        now = utcnow()
        lid = new_id()
        with self._unique(f"a list named {name} already exists"), self.writing() as s:
            if s.get(AccountRow, account_id) is None:
                raise NotFound(f"account {account_id} not found")
            s.add(
                ListRow(
                    id=lid,
                    account_id=account_id,
                    name=name,
                    kind=kind,
                    description=description,
                    created_on=now,
                    modified_on=now,
                )
            )
            self._bump(s)
        return self.get_list(account_id, lid)

    def list_lists(self, account_id: str) -> list[NamedListRecord]:
        with self.reading() as s:
            rows = s.scalars(
                select(ListRow).where(ListRow.account_id == account_id).order_by(ListRow.name)
            ).all()
            refs = _list_references(s, account_id)
            return [_named_list(s, r, refs) for r in rows]

    def get_list(self, account_id: str, list_id: str) -> NamedListRecord:
        with self.reading() as s:
            row = s.get(ListRow, list_id)
            if row is None or row.account_id != account_id:
                raise NotFound(f"list {list_id} not found")
            return _named_list(s, row, _list_references(s, account_id))

    def update_list(self, account_id: str, list_id: str, description: str) -> NamedListRecord:
        with self.writing() as s:
            row = _list_row(s, account_id, list_id)
            row.description = description
            row.modified_on = utcnow()
        return self.get_list(account_id, list_id)

    def delete_list(self, account_id: str, list_id: str) -> None:
        with self.writing() as s:
            row = _list_row(s, account_id, list_id)
            n = _list_references(s, account_id).get(row.name, 0)
            if n:
                raise Conflict(f"list {row.name} is used by {n} rule(s); remove them first")
            s.delete(row)
            self._bump(s)

    def list_items(
        self, account_id: str, list_id: str, *, page: int = 1, per_page: int = 100
    ) -> tuple[list[ListItem], int]:
        with self.reading() as s:
            _list_row(s, account_id, list_id)
        q = select(ListItemRow).where(ListItemRow.list_id == list_id).order_by(ListItemRow.value)
        return self._page(q, page, per_page, _item)

    def add_list_items(
        self,
        account_id: str,
        list_id: str,
        items: Sequence[tuple[str, str]],
        *,
        replace_all: bool = False,
    ) -> int:
        """Add (value, comment) items — an existing value gets the new comment — or, with
        replace_all, make them the list's only items. Returns the list's item count."""
        now = utcnow()
        with self.writing() as s:
            lst = _list_row(s, account_id, list_id)
            existing = {
                r.value: r
                for r in s.scalars(select(ListItemRow).where(ListItemRow.list_id == list_id))
            }
            wanted = dict(items)
            if replace_all:
                for value, old in existing.items():
                    if value not in wanted:
                        s.delete(old)
            for value, comment in wanted.items():
                row = existing.get(value)
                if row is None:
                    s.add(
                        ListItemRow(
                            id=new_id(),
                            list_id=list_id,
                            value=value,
                            comment=comment,
                            created_on=now,
                            modified_on=now,
                        )
                    )
                elif row.comment != comment:
                    row.comment = comment
                    row.modified_on = now
            lst.modified_on = now
            self._bump(s)
            s.flush()
            return int(s.scalar(select(func.count()).where(ListItemRow.list_id == list_id)) or 0)

    def delete_list_items(self, account_id: str, list_id: str, item_ids: Collection[str]) -> int:
        with self.writing() as s:
            lst = _list_row(s, account_id, list_id)
            s.execute(
                delete(ListItemRow).where(
                    ListItemRow.list_id == list_id, ListItemRow.id.in_(list(item_ids))
                )
            )
            lst.modified_on = utcnow()
            self._bump(s)
            return int(s.scalar(select(func.count()).where(ListItemRow.list_id == list_id)) or 0)

    def list_values(self, account_id: str) -> Mapping[str, tuple[str, tuple[str, ...]]]:
        """Every list of an account as name → (kind, values): what rules compile against."""
        return self._cache.get(("lists", account_id), lambda: self._load_list_values(account_id))

    def _load_list_values(self, account_id: str) -> Mapping[str, tuple[str, tuple[str, ...]]]:
        with self.reading() as s:
            rows = s.execute(
                select(ListRow.name, ListRow.kind, ListItemRow.value)
                .join(ListItemRow, ListItemRow.list_id == ListRow.id, isouter=True)
                .where(ListRow.account_id == account_id)
            ).all()
        out: dict[str, tuple[str, list[str]]] = {}
        for name, kind, value in rows:
            entry = out.setdefault(name, (kind, []))
            if value is not None:
                entry[1].append(value)
        return {name: (kind, tuple(values)) for name, (kind, values) in out.items()}

    # -- feedback -----------------------------------------------------------------------

    def create_feedback(
        self,
        zone_id: str,
        report: FeedbackInput,
        *,
        created_by: str,
        request_hash: str,
        idempotency_key: str | None = None,
    ) -> tuple[FeedbackReport, bool]:
        """Store a report; with an idempotency key already used for this zone, return the
        first report instead (created=False), or raise Conflict if the body differs."""
        now = utcnow()
        row = FeedbackRow(
            id=new_id(),
            zone_id=zone_id,
            type=report.type.value,
            subtype=report.subtype,
            description=report.description,
            expression=report.expression,
            first_request_seen_at=report.first_request_seen_at,
            last_request_seen_at=report.last_request_seen_at,
            requests=report.requests,
            requests_by_score=report.requests_by_score,
            requests_by_score_src=report.requests_by_score_src,
            requests_by_attribute=report.requests_by_attribute,
            status=FeedbackStatus.PENDING.value,
            reviewer=None,
            note=None,
            created_by=created_by,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            created_on=now,
            modified_on=now,
            reviewed_on=None,
        )
        values = {c.key: getattr(row, c.key) for c in FeedbackRow.__table__.columns}
        try:
            # A Core insert in its own short transaction: reports are written often and
            # never read back in the same transaction, so the ORM session buys nothing.
            # The unique (zone, key) constraint decides idempotency, even under races.
            with self._write_engine.begin() as conn:
                conn.execute(insert(FeedbackRow), values)
        except IntegrityError:
            if idempotency_key is not None:
                existing = self._by_idempotency_key(zone_id, idempotency_key, request_hash)
                if existing is not None:
                    return existing, False
            with self.reading() as s:
                if s.get(ZoneRow, zone_id) is None:
                    raise NotFound(f"zone {zone_id} not found") from None
            raise
        return _feedback(row), True

    def _by_idempotency_key(
        self, zone_id: str, key: str, request_hash: str
    ) -> FeedbackReport | None:
        with self.reading() as s:
            row = s.scalar(
                select(FeedbackRow).where(
                    FeedbackRow.zone_id == zone_id, FeedbackRow.idempotency_key == key
                )
            )
            if row is None:
                return None
            if not hmac.compare_digest(row.request_hash, request_hash):
                raise Conflict(
                    "this Idempotency-Key was already used for a different report; "
                    "use a new key for a new report"
                )
            return _feedback(row)

    def get_feedback(self, zone_id: str, report_id: str) -> FeedbackReport:
        with self.reading() as s:
            row = s.get(FeedbackRow, report_id)
            if row is None or row.zone_id != zone_id:
                raise NotFound(f"feedback report {report_id} not found")
            return _feedback(row)

    def list_feedback(
        self,
        zone_id: str,
        *,
        status: FeedbackStatus | None = None,
        type: FeedbackType | None = None,
        page: int = 1,
        per_page: int = 20,
    ) -> tuple[list[FeedbackReport], int]:
        q = select(FeedbackRow).where(FeedbackRow.zone_id == zone_id)
        if status is not None:
            q = q.where(FeedbackRow.status == status.value)
        if type is not None:
            q = q.where(FeedbackRow.type == type.value)
        q = q.order_by(FeedbackRow.created_on.desc(), FeedbackRow.id)
        return self._page(q, page, per_page, _feedback)

    def review_feedback(
        self,
        zone_id: str,
        report_id: str,
        *,
        status: FeedbackStatus,
        reviewer: str,
        note: str | None = None,
    ) -> FeedbackReport:
        """Accept, reject or reopen (back to pending) a report that is not yet labelled."""
        if status == FeedbackStatus.LABELLED:
            raise ValueError("reports become labelled through the feedback loop, not by review")
        with self.writing() as s:
            row = _reviewable(s, zone_id, report_id)
            row.status = status.value
            _reviewed(row, reviewer, note)
            return _feedback(row)

    def mark_feedback_labelled(self, report_ids: Collection[str]) -> int:
        """Mark accepted reports as turned into training labels; returns how many."""
        with self.writing() as s:
            res = s.execute(
                update(FeedbackRow)
                .where(
                    FeedbackRow.id.in_(list(report_ids)),
                    FeedbackRow.status == FeedbackStatus.ACCEPTED.value,
                )
                .values(status=FeedbackStatus.LABELLED.value, modified_on=utcnow())
            )
            return int(getattr(res, "rowcount", 0) or 0)

    def relabel_feedback(
        self,
        zone_id: str,
        report_id: str,
        *,
        type: FeedbackType,
        subtype: str | None,
        reviewer: str,
        note: str | None = None,
    ) -> FeedbackReport:
        """Change a report's type (and subtype) on review; it becomes accepted."""
        if type is FeedbackType.FALSE_POSITIVE and subtype is not None:
            raise ValueError("only false_negative reports have a subtype")
        with self.writing() as s:
            row = _reviewable(s, zone_id, report_id)
            row.type = type.value
            row.subtype = subtype
            row.status = FeedbackStatus.ACCEPTED.value
            _reviewed(row, reviewer, note)
            return _feedback(row)

    def accepted_feedback(self) -> list[FeedbackReport]:
        """Every accepted report not yet turned into training labels, in every zone."""
        return self._feedback_in(FeedbackStatus.ACCEPTED)

    def labelled_feedback(self) -> list[FeedbackReport]:
        """Every report already turned into training labels (in a model), in every zone:
        the next retrain learns them again, so a new model does not forget them."""
        return self._feedback_in(FeedbackStatus.LABELLED)

    def _feedback_in(self, status: FeedbackStatus) -> list[FeedbackReport]:
        """Every report with `status`, in every zone, oldest first."""
        with self.reading() as s:
            rows = s.scalars(
                select(FeedbackRow)
                .where(FeedbackRow.status == status.value)
                .order_by(FeedbackRow.created_on, FeedbackRow.id)
            ).all()
            return [_feedback(r) for r in rows]

    def feedback_by_ids(self, report_ids: Collection[str]) -> list[FeedbackReport]:
        with self.reading() as s:
            rows = s.scalars(select(FeedbackRow).where(FeedbackRow.id.in_(list(report_ids)))).all()
            return [_feedback(r) for r in rows]

    def set_feedback_trained(self, version: str, rows: Mapping[str, int]) -> int:
        """Record that `version` was trained on these reports (id → labelled rows): each
        accepted report becomes labelled; returns how many changed."""
        changed = 0
        with self.writing() as s:
            for report_id, n in rows.items():
                row = s.get(FeedbackRow, report_id)
                if row is None or row.status not in (
                    FeedbackStatus.ACCEPTED.value,
                    FeedbackStatus.LABELLED.value,
                ):
                    continue
                row.status = FeedbackStatus.LABELLED.value
                row.model_version = version
                row.labelled_rows = int(n)
                row.modified_on = utcnow()
                changed += 1
        return changed

    # -- model versions -----------------------------------------------------------------

    def mirror_model(
        self,
        version: str,
        *,
        state: str,
        parent: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        description: str = "",
        fingerprint: str = "",
        feedback_reports: Collection[str] = (),
        promoted: bool = False,
    ) -> ModelVersion:
        """Insert or update a version as the file registry has it (the registry holds the
        artifacts; this row is what the API shows). `promoted` stamps `promoted_on`."""
        with self.writing() as s:
            row = s.get(ModelVersionRow, version)
            if row is None:
                row = ModelVersionRow(
                    version=version,
                    description=description,
                    fingerprint=fingerprint,
                    metrics=dict(metrics or {}),
                    created_on=utcnow(),
                    promoted_on=None,
                )
                s.add(row)
            row.state = state
            if parent is not None:
                row.parent = parent
            if metrics is not None:
                row.metrics = dict(metrics)
            if description:
                row.description = description
            if fingerprint:
                row.fingerprint = fingerprint
            if feedback_reports:
                row.feedback_reports = list(feedback_reports)
            if promoted:
                row.promoted_on = utcnow()
                self._bump(s)
            s.flush()
            return _model(row)

    def register_model(
        self,
        version: str,
        *,
        metrics: Mapping[str, Any] | None = None,
        description: str = "",
        fingerprint: str = "",
    ) -> ModelVersion:
        if not version.strip() or len(version) > 64:
            raise ValueError("a model version is 1…64 characters")
        row = ModelVersionRow(
            version=version,
            description=description,
            fingerprint=fingerprint,
            metrics=dict(metrics or {}),
            created_on=utcnow(),
            promoted_on=None,
        )
        with self._unique(f"model version {version} already exists"), self.writing() as s:
            s.add(row)
        return _model(row)

    def list_models(self, *, page: int = 1, per_page: int = 20) -> tuple[list[ModelVersion], int]:
        q = select(ModelVersionRow).order_by(
            ModelVersionRow.created_on.desc(), ModelVersionRow.version.desc()
        )
        return self._page(q, page, per_page, _model)

    def get_model(self, version: str) -> ModelVersion:
        with self.reading() as s:
            row = s.get(ModelVersionRow, version)
            if row is None:
                raise NotFound(f"model version {version} not found")
            return _model(row)

    def latest_model(self) -> ModelVersion | None:
        """The most recently promoted version: what zones that are not pinned run."""
        return self._cache.get(("latest_model",), self._load_latest_model)

    def _load_latest_model(self) -> ModelVersion | None:
        with self.reading() as s:
            row = s.scalar(
                select(ModelVersionRow)
                .where(ModelVersionRow.promoted_on.is_not(None))
                .order_by(ModelVersionRow.promoted_on.desc())
                .limit(1)
            )
            return None if row is None else _model(row)

    def promote_model(self, version: str) -> ModelVersion:
        with self.writing() as s:
            row = s.get(ModelVersionRow, version)
            if row is None:
                raise NotFound(f"model version {version} not found")
            row.promoted_on = utcnow()
            self._bump(s)
            return _model(row)

    # -- helpers ------------------------------------------------------------------------

    def _page(
        self, q: Select[*tuple[Any, ...]], page: int, per_page: int, conv: Any
    ) -> tuple[list[Any], int]:
        page = max(1, page)
        per_page = max(1, per_page)
        with self.reading() as s:
            total = int(
                s.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
            )
            rows = s.execute(q.limit(per_page).offset((page - 1) * per_page)).all()
            return [conv(*r) for r in rows], total

    @contextmanager
    def _unique(self, message: str) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise Conflict(message) from exc


# -- row → record ---------------------------------------------------------------------------


def _zone_query() -> Select[ZoneRow, str]:
    return select(ZoneRow, AccountRow.name).join(AccountRow, AccountRow.id == ZoneRow.account_id)


def _account(row: AccountRow) -> Account:
    return Account(row.id, row.name, row.created_on)


def _accounts_of(s: Session, user_id: str) -> tuple[str, ...]:
    return tuple(
        s.scalars(
            select(MembershipRow.account_id)
            .where(MembershipRow.user_id == user_id)
            .order_by(MembershipRow.account_id)
        )
    )


def _user(row: UserRow, account_ids: tuple[str, ...]) -> User:
    return User(row.id, row.email, row.is_admin, row.created_on, account_ids)


def _token(row: TokenRow) -> Token:
    return Token(
        row.id,
        row.user_id,
        row.name,
        row.status,
        tuple(Grant.from_json(g) for g in row.grants),
        row.issued_on,
        row.modified_on,
        row.not_before,
        row.expires_on,
    )


def _zone(row: ZoneRow, account_name: str) -> Zone:
    return Zone(
        row.id,
        row.account_id,
        account_name,
        row.name,
        Plan(row.plan),
        row.status,
        row.created_on,
        row.modified_on,
    )


def _settings_row(st: BotSettings, now: datetime) -> BotSettingsRow:
    return BotSettingsRow(
        zone_id=st.zone_id, modified_on=now, **{k: getattr(st, k) for k in SETTING_FIELDS}
    )


def _settings(row: BotSettingsRow) -> BotSettings:
    return BotSettings(
        zone_id=row.zone_id,
        modified_on=row.modified_on,
        **{k: getattr(row, k) for k in SETTING_FIELDS},
    )


def _ruleset_row(s: Session, zone_id: str, ruleset_id: str) -> RulesetRow:
    rs = s.get(RulesetRow, ruleset_id)
    if rs is None or rs.zone_id != zone_id:
        raise NotFound(f"ruleset {ruleset_id} not found")
    return rs


def _rule_rows(s: Session, ruleset_id: str) -> Sequence[RuleRow]:
    return s.scalars(
        select(RuleRow).where(RuleRow.ruleset_id == ruleset_id).order_by(RuleRow.position)
    ).all()


def _store_rule(
    s: Session, ruleset_id: str, pos: int, r: RuleInput, old: RuleRow | None, now: datetime
) -> None:
    values = {
        "expression": r.expression,
        "action": r.action,
        "description": r.description,
        "enabled": r.enabled,
        "action_parameters": r.action_parameters,
        "ratelimit": r.ratelimit,
        "ref": r.ref,
        "compiled_ok": r.compiled_ok,
        "fingerprint": r.fingerprint,
    }
    if old is None:
        rid = r.id or new_id()
        s.add(
            RuleRow(
                id=rid,
                ruleset_id=ruleset_id,
                position=pos,
                version=1,
                last_updated=now,
                **{**values, "ref": r.ref or rid},
            )
        )
        return
    old.position = pos
    if any(getattr(old, k) != v for k, v in values.items() if k != "ref" or v):
        for k, v in values.items():
            if k != "ref" or v:
                setattr(old, k, v)
        old.version += 1
        old.last_updated = now


def _ruleset(s: Session, row: RulesetRow) -> Ruleset:
    return Ruleset(
        row.id,
        row.zone_id,
        row.phase,
        row.name,
        row.description,
        row.version,
        row.last_updated,
        tuple(
            StoredRule(
                r.id,
                r.expression,
                r.action,
                r.description,
                r.enabled,
                r.action_parameters,
                r.ratelimit,
                r.ref,
                r.compiled_ok,
                r.fingerprint,
                r.version,
                r.last_updated,
            )
            for r in _rule_rows(s, row.id)
        ),
    )


def _list_row(s: Session, account_id: str, list_id: str) -> ListRow:
    row = s.get(ListRow, list_id)
    if row is None or row.account_id != account_id:
        raise NotFound(f"list {list_id} not found")
    return row


_LIST_REF = re.compile(r"\$([a-z0-9_]+)")


def _list_references(s: Session, account_id: str) -> dict[str, int]:
    """How many rules of the account's zones name each list (`$name`)."""
    exprs = s.scalars(
        select(RuleRow.expression)
        .join(RulesetRow, RulesetRow.id == RuleRow.ruleset_id)
        .join(ZoneRow, ZoneRow.id == RulesetRow.zone_id)
        .where(ZoneRow.account_id == account_id, RuleRow.expression.contains("$"))
    )
    counts: dict[str, int] = {}
    for e in exprs:
        for name in set(_LIST_REF.findall(e)):
            counts[name] = counts.get(name, 0) + 1
    return counts


def _named_list(s: Session, row: ListRow, refs: Mapping[str, int]) -> NamedListRecord:
    n = s.scalar(select(func.count()).where(ListItemRow.list_id == row.id)) or 0
    return NamedListRecord(
        row.id,
        row.account_id,
        row.name,
        row.kind,
        row.description,
        int(n),
        refs.get(row.name, 0),
        row.created_on,
        row.modified_on,
    )


def _item(row: ListItemRow) -> ListItem:
    return ListItem(row.id, row.list_id, row.value, row.comment, row.created_on, row.modified_on)


def _reviewable(s: Session, zone_id: str, report_id: str) -> FeedbackRow:
    """The zone's report, if a reviewer may still change it."""
    row = s.get(FeedbackRow, report_id)
    if row is None or row.zone_id != zone_id:
        raise NotFound(f"feedback report {report_id} not found")
    if row.status == FeedbackStatus.LABELLED.value:
        raise Conflict("this report's traffic is already training data; it cannot change")
    return row


def _reviewed(row: FeedbackRow, reviewer: str, note: str | None) -> None:
    now = utcnow()
    row.reviewer = reviewer
    if note is not None:
        row.note = note
    row.reviewed_on = now
    row.modified_on = now


def _feedback(row: FeedbackRow) -> FeedbackReport:
    return FeedbackReport(
        id=row.id,
        zone_id=row.zone_id,
        type=FeedbackType(row.type),
        subtype=row.subtype,
        description=row.description,
        expression=row.expression,
        first_request_seen_at=row.first_request_seen_at,
        last_request_seen_at=row.last_request_seen_at,
        requests=row.requests,
        requests_by_score=row.requests_by_score,
        requests_by_score_src=row.requests_by_score_src,
        requests_by_attribute=row.requests_by_attribute,
        status=FeedbackStatus(row.status),
        reviewer=row.reviewer,
        note=row.note,
        created_by=row.created_by,
        created_on=row.created_on,
        modified_on=row.modified_on,
        reviewed_on=row.reviewed_on,
        idempotency_key=row.idempotency_key,
        model_version=row.model_version,
        labelled_rows=row.labelled_rows,
    )


def _model(row: ModelVersionRow) -> ModelVersion:
    return ModelVersion(
        row.version,
        row.description,
        row.fingerprint,
        dict(row.metrics or {}),
        row.created_on,
        row.promoted_on,
        row.parent,
        row.state or "candidate",
        tuple(row.feedback_reports or ()),
    )


def open(url: str = db.DEFAULT_URL, *, migrate: bool = True) -> Store:
    """Connect to the store at `url` and upgrade its schema to the newest revision."""
    engine = db.make_engine(url)
    if migrate:
        db.upgrade(engine)
    return Store(engine)
