from __future__ import annotations

import base64
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botwarden.errors import ConfigError
from botwarden.result import BotManagement, ScoreSource
from botwarden.session import (
    MAX_IDLE,
    Session,
    SessionCodec,
    SessionKeys,
    keys_from,
    smooth,
)

NOW = 1_750_000_000.0
RING = SessionKeys.generate()


def codec(ring: SessionKeys = RING, **kw: object) -> SessionCodec:
    return SessionCodec(ring, **kw)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    c = codec()
    s = Session("ab" * 16, NOW - 100, NOW - 5, requests=7, automated=1, highest_score=64)
    out = c.decode(c.encode(s), NOW)
    assert out == Session("ab" * 16, NOW - 100, NOW - 5, 7, 1, 64)
    assert c.stats["valid"] == 1


def test_each_cookie_is_sealed_with_a_fresh_nonce() -> None:
    c = codec()
    s = Session.start(NOW)
    assert c.encode(s) != c.encode(s)


def test_every_flipped_byte_is_refused_and_counted() -> None:
    c = codec()
    value = c.encode(Session.start(NOW))
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(bad)).rstrip(b"=").decode()
        assert c.decode(forged, NOW) is None
    assert c.stats["tampered"] == len(raw)
    assert c.stats["valid"] == 0


@pytest.mark.parametrize("value", ["", "x", "a" * 99, "!" * 100, "abc=def"])
def test_garbage_is_refused(value: str) -> None:
    c = codec()
    assert c.decode(value, NOW) is None
    assert c.begin(value, NOW).new


@given(st.text(max_size=200))
def test_no_input_crashes_decode(value: str) -> None:
    assert codec().decode(value, NOW) is None


def test_idle_past_thirty_minutes_is_expired() -> None:
    c = codec()
    value = c.encode(Session("cd" * 16, NOW, NOW))
    assert c.decode(value, NOW + MAX_IDLE - 1) is not None
    assert c.decode(value, NOW + MAX_IDLE + 1) is None
    assert c.stats["expired"] == 1
    fresh = c.begin(value, NOW + MAX_IDLE + 1)
    assert fresh.new
    assert fresh.id != "cd" * 16


def test_a_cookie_of_another_name_does_not_open() -> None:
    value = codec(cookie_name="__cf_bm").encode(Session.start(NOW))
    assert codec(cookie_name="other").decode(value, NOW) is None


def test_rotation_keeps_old_cookies_and_seals_with_the_new_key() -> None:
    old = SessionKeys.generate()
    value = codec(old).encode(Session("ef" * 16, NOW, NOW))
    rotated = old.rotated()
    c = codec(rotated)
    assert c.decode(value, NOW) is not None
    new_value = c.encode(Session.start(NOW))
    assert codec(old).decode(new_value, NOW) is None  # sealed with the new key
    # once the old key is dropped from the ring, its cookies no longer open
    dropped = SessionKeys(rotated.keys[:1])
    assert codec(dropped).decode(value, NOW) is None


def test_key_file_is_created_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "session.keys"
    ring = SessionKeys.from_file(path, create=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = SessionKeys.from_file(path)
    assert again.keys == ring.keys
    value = codec(ring).encode(Session.start(NOW))
    assert codec(again).decode(value, NOW) is not None


def _create_after(barrier: Any, path: str, out: Any) -> None:
    barrier.wait()
    try:
        out.put(SessionKeys.from_file(path, create=True).dump())
    except BaseException as exc:  # reported to the test, not lost in the child
        out.put(f"error: {type(exc).__name__}: {exc}")


def test_edges_starting_together_on_an_empty_data_dir_share_one_key_ring(
    tmp_path: Path,
) -> None:
    """Each edge generated a ring and wrote it through one shared temporary name: one could
    crash (its temporary file renamed away by another) or serve with a ring that is no
    longer on disk. The first to create the file wins; the others read it."""
    ctx = multiprocessing.get_context("fork")
    path = tmp_path / "data" / "session.keys"
    for _ in range(5):
        if path.exists():
            path.unlink()
        n = 8
        barrier, out = ctx.Barrier(n), ctx.Queue()
        procs = [
            ctx.Process(target=_create_after, args=(barrier, str(path), out)) for _ in range(n)
        ]
        for proc in procs:
            proc.start()
        rings = [out.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(60)
        on_disk = path.read_text(encoding="ascii")
        assert rings == [on_disk] * n
        assert sorted(f.name for f in path.parent.iterdir()) == ["session.keys"]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_bad_key_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        SessionKeys.from_file(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.write_text("# comment\n!!!\n")
    with pytest.raises(ConfigError, match="line 2 is not base64"):
        SessionKeys.from_file(bad)
    short = tmp_path / "short"
    short.write_text(base64.urlsafe_b64encode(b"x" * 16).decode() + "\n")
    with pytest.raises(ConfigError, match="not 32 bytes"):
        SessionKeys.from_file(short)
    with pytest.raises(ConfigError, match="no key"):
        keys_from([])


def test_ml_features_hooks() -> None:
    c = codec()
    s = Session.start(NOW)
    value = c.encode(s)
    assert c.is_valid(value)
    assert c.session_id(value) == s.id
    assert not c.is_valid(value[:-2] + "AA")
    assert c.session_id("nope") is None


def ml(score: int) -> BotManagement:
    return BotManagement(score=score, score_src=ScoreSource.MACHINE_LEARNING)


def test_smoothing_raises_a_human_sessions_low_ml_score_halfway() -> None:
    s = Session.start(NOW)
    SessionCodec.observe(s, ml(90), NOW)
    bm = ml(20)
    SessionCodec.observe(s, bm, NOW + 1)
    assert bm.score == smooth(20, 90) == 55
    assert (s.requests, s.highest_score, s.last_seen) == (2, 90, NOW + 1)
    higher = ml(95)
    SessionCodec.observe(s, higher, NOW + 2)
    assert (higher.score, s.highest_score) == (95, 95)


def test_sure_verdicts_are_never_smoothed_and_mark_the_session() -> None:
    s = Session.start(NOW)
    SessionCodec.observe(s, ml(90), NOW)
    heur = BotManagement(score=1, score_src=ScoreSource.HEURISTICS)
    SessionCodec.observe(s, heur, NOW)
    assert (heur.score, s.automated) == (1, 1)
    later = ml(20)
    SessionCodec.observe(s, later, NOW)
    assert later.score == 20  # a session that was caught once is no longer smoothed


def test_suppress_session_score_neither_tracks_nor_smooths() -> None:
    s = Session.start(NOW)
    SessionCodec.observe(s, ml(90), NOW, suppress=True)
    bm = ml(20)
    SessionCodec.observe(s, bm, NOW, suppress=True)
    assert (bm.score, s.highest_score, s.requests) == (20, 0, 2)


def test_set_cookie_attributes() -> None:
    c = codec()
    header = c.set_cookie(Session.start(NOW), secure=True)
    assert header.startswith("__cf_bm=")
    for part in ("Max-Age=1800", "HttpOnly", "SameSite=None; Secure"):
        assert part in header
    assert "SameSite=Lax" in c.set_cookie(Session.start(NOW), secure=False)
