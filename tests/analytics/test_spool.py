"""The disk spool: records survive reopening, torn tails are cut, segments are released."""

from __future__ import annotations

from pathlib import Path

import pytest

from botwarden.analytics.spool import Spool, SpoolCorrupt
from botwarden.errors import ConfigError

from .helpers import batch, ev


def fill(spool: Spool, n: int, size: int = 10) -> None:
    for _ in range(n):
        first = spool.next_seq
        spool.append(batch([ev(first + i) for i in range(size)], first, spool.spool_id))


def test_records_survive_reopening(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    assert s.open() == []
    fill(s, 3)
    spool_id = s.spool_id
    s.close()
    again = Spool(tmp_path)
    records = again.open()
    assert again.spool_id == spool_id
    assert [(r.first_seq, r.count) for r in records] == [(1, 10), (11, 10), (21, 10)]
    assert again.read(records[1]).column("request_id").to_pylist()[0] == "r11"
    assert again.next_seq == 31
    fill(again, 1)
    assert again.records[-1].first_seq == 31


def test_a_torn_tail_is_cut_and_writing_goes_on(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.open()
    fill(s, 2)
    seg = s.records[-1].segment
    s.close()
    data = seg.read_bytes()
    last = Spool(tmp_path)  # a crash in the middle of a third record:
    seg.write_bytes(data + data[len(data) - 300 : len(data) - 100])
    records = last.open()
    assert [r.first_seq for r in records] == [1, 11]
    assert last.truncated_bytes == 200
    assert seg.stat().st_size == len(data)
    fill(last, 1)
    assert last.records[-1].first_seq == 21


def test_a_corrupt_record_is_cut(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.open()
    fill(s, 2)
    rec = s.records[-1]
    s.close()
    raw = bytearray(rec.segment.read_bytes())
    raw[rec.offset + 40] ^= 0xFF
    rec.segment.write_bytes(bytes(raw))
    again = Spool(tmp_path)
    assert [r.first_seq for r in again.open()] == [1]
    assert again.next_seq == 11


def test_read_checks_the_checksum(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.open()
    fill(s, 1)
    rec = s.records[0]
    with rec.segment.open("r+b") as f:
        f.seek(rec.offset + 60)
        f.write(b"\x00\x01\x02")
    with pytest.raises(SpoolCorrupt):
        s.read(rec)


def test_release_deletes_stored_segments_but_keeps_the_sequence(tmp_path: Path) -> None:
    s = Spool(tmp_path, segment_bytes=1)  # one record per segment
    s.open()
    fill(s, 4)
    assert s.segments == 4
    s.release(30)
    assert [r.first_seq for r in s.records] == [31]
    assert s.segments == 1
    s.release(40)
    assert s.records == []
    assert s.segments == 1  # the newest segment stays: its name carries the sequence
    s.close()
    again = Spool(tmp_path)
    # The kept segment's record is offered again; the writer skips it by the watermark.
    assert [r.first_seq for r in again.open()] == [31]
    assert again.next_seq == 41


def test_one_process_owns_a_spool(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.open()
    with pytest.raises(ConfigError, match="in use"):
        Spool(tmp_path).open()
    s.close()
    Spool(tmp_path).open()


def test_a_batch_must_continue_the_sequence(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.open()
    with pytest.raises(ValueError, match="expects 1"):
        s.append(batch([ev(1)], first_seq=5))


def test_a_segment_of_another_spool_is_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    sa = Spool(a)
    sa.open()
    fill(sa, 1)
    sa.close()
    sb = Spool(b)
    sb.open()
    sb.close()
    for seg in a.glob("seg-*"):
        (b / "seg-00000000000000000999.bws").write_bytes(seg.read_bytes())
    with pytest.raises(ConfigError, match="another spool"):
        Spool(b).open()
