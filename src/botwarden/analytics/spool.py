"""The disk spool: append-only, checksummed segments of finished event batches.

Every batch the writer flushes is written here (and fsynced) before it goes to the backend,
so a backend outage or a crash loses nothing that was acknowledged. Layout of a directory:

    spool_id                  16 hex digits naming this spool (the backend keeps a
                              watermark per spool id)
    lock                      flock()ed by the one process that owns the spool
    seg-<first seq>.bws       segments: an 8-byte magic and the spool id, then records

A record is a 24-byte header — magic `BWR1`, payload length, CRC-32 of the payload, first
sequence number, row count — and an Arrow IPC stream (LZ4) of the batch. A record is
acknowledged once written and synced; a record torn by a crash fails its length or CRC
check and is cut off when the spool is opened again. Segments whose rows are all stored
are deleted, except the newest, whose name keeps the sequence going.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]

from botwarden.errors import ConfigError

SEGMENT_MAGIC = b"BWSPOOL1"
RECORD_MAGIC = b"BWR1"
_SEG_HEAD = len(SEGMENT_MAGIC) + 16
_REC = struct.Struct("<4sIIqI")


class SpoolCorrupt(Exception):
    """A record failed its checksum when read back."""


@dataclass(frozen=True, slots=True)
class Record:
    segment: Path
    offset: int
    first_seq: int
    count: int
    size: int

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1


def _segment_name(first_seq: int) -> str:
    return f"seg-{first_seq:020d}.bws"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        segment_bytes: int = 64 << 20,
        fsync: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.spool_id = ""
        self.next_seq = 1
        self.truncated_bytes = 0
        """Bytes cut off torn or corrupt records when the spool was opened."""
        self._records: list[Record] = []
        self._sizes: dict[Path, int] = {}
        self._lock_fd = -1
        self._fd = -1
        self._current: Path | None = None
        self._current_size = 0
        self._broken = False
        # append() runs in the flusher thread, release() in the storer thread.
        self._lock = threading.Lock()

    # -- opening --------------------------------------------------------------------------

    def open(self) -> list[Record]:
        """Lock the directory, check every record, cut torn tails, start a new segment.
        Returns the records the spool holds, oldest first."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise ConfigError(
                f"the analytics spool {self.directory} is in use by another process"
            ) from None
        self.spool_id = self._read_or_make_id()
        segments = sorted(self.directory.glob("seg-*.bws"))
        for seg in segments:
            self._scan(seg)
        if self._records:
            self.next_seq = self._records[-1].last_seq + 1
        elif segments:
            self.next_seq = max(self.next_seq, int(segments[-1].name[4:24]))
        self._start_segment()
        return list(self._records)

    def _read_or_make_id(self) -> str:
        path = self.directory / "spool_id"
        if path.exists():
            text = path.read_text().strip()
            if len(text) != 16 or any(c not in "0123456789abcdef" for c in text):
                raise ConfigError(f"{path}: not a spool id (16 hex digits)")
            return text
        new = secrets.token_hex(8)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(new + "\n")
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        return new

    def _scan(self, seg: Path) -> None:
        size = seg.stat().st_size
        with seg.open("rb") as f:
            head = f.read(_SEG_HEAD)
            if len(head) < _SEG_HEAD or not head.startswith(SEGMENT_MAGIC):
                # A segment whose header never made it to disk holds nothing acknowledged.
                self.truncated_bytes += size
                seg.unlink()
                return
            if head[len(SEGMENT_MAGIC) :].decode("ascii", "replace") != self.spool_id:
                raise ConfigError(f"{seg} belongs to another spool; move it away")
            first_seq = int(seg.name[4:24])
            self.next_seq = max(self.next_seq, first_seq)
            offset = _SEG_HEAD
            while offset < size:
                f.seek(offset)
                raw = f.read(_REC.size)
                if len(raw) < _REC.size:
                    break
                magic, length, crc, first, count = _REC.unpack(raw)
                if magic != RECORD_MAGIC or offset + _REC.size + length > size:
                    break
                if zlib.crc32(f.read(length)) != crc:
                    break
                self._records.append(Record(seg, offset, first, count, _REC.size + length))
                offset += _REC.size + length
        if offset < size:
            self.truncated_bytes += size - offset
            with seg.open("r+b") as f:
                f.truncate(offset)
                os.fsync(f.fileno())
        self._sizes[seg] = offset

    def _start_segment(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        path = self.directory / _segment_name(self.next_seq)
        if path.exists():  # the newest segment, reopened: append after its last record
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            self._current_size = self._sizes.get(path, path.stat().st_size)
        else:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            os.write(self._fd, SEGMENT_MAGIC + self.spool_id.encode("ascii"))
            if self.fsync:
                os.fsync(self._fd)
                _fsync_dir(self.directory)
            self._current_size = _SEG_HEAD
        self._current = path
        self._sizes[path] = self._current_size

    # -- writing --------------------------------------------------------------------------

    def append(self, table: pa.Table) -> Record:
        """Write a finished batch numbered from `next_seq`; returns once it is durable."""
        with self._lock:
            return self._append(table)

    def _append(self, table: pa.Table) -> Record:
        if self._broken:
            raise OSError("the spool could not cut a failed write; restart to repair it")
        count = table.num_rows
        if count == 0:
            raise ValueError("an empty batch has nothing to spool")
        first = table.column("seq")[0].as_py()
        if first != self.next_seq:
            raise ValueError(f"batch starts at seq {first}, the spool expects {self.next_seq}")
        if self._current_size >= self.segment_bytes:
            self._start_segment()
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        payload = sink.getvalue().to_pybytes()
        head = _REC.pack(RECORD_MAGIC, len(payload), zlib.crc32(payload), first, count)
        assert self._current is not None
        offset = self._current_size
        data = head + payload
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write: keep going
                written += os.write(self._fd, data[written:])
            if self.fsync:
                os.fdatasync(self._fd)
        except OSError:
            # Cut the partial record so that later records are not stranded behind it.
            try:
                os.ftruncate(self._fd, offset)
            except OSError:
                # Records written after a torn one would be cut with it when the spool is
                # next opened: write none until then.
                self._broken = True
            raise
        record = Record(self._current, offset, first, count, len(data))
        self._current_size += len(data)
        self._sizes[self._current] = self._current_size
        self._records.append(record)
        self.next_seq = first + count
        return record

    # -- reading and releasing ------------------------------------------------------------

    def read(self, record: Record) -> pa.Table:
        with record.segment.open("rb") as f:
            f.seek(record.offset)
            raw = f.read(record.size)
        magic, length, crc, _, _ = _REC.unpack(raw[: _REC.size])
        payload = raw[_REC.size :]
        if magic != RECORD_MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            raise SpoolCorrupt(f"{record.segment} at {record.offset}: checksum mismatch")
        with pa.ipc.open_stream(pa.py_buffer(payload)) as reader:
            return reader.read_all()

    def release(self, stored_seq: int) -> None:
        """Forget records at or below `stored_seq`; delete segments left with none."""
        with self._lock:
            self._records = [r for r in self._records if r.last_seq > stored_seq]
            live = {r.segment for r in self._records}
            for seg in list(self._sizes):
                if seg != self._current and seg not in live:
                    seg.unlink(missing_ok=True)
                    del self._sizes[seg]

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    @property
    def bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    @property
    def segments(self) -> int:
        with self._lock:
            return len(self._sizes)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1
