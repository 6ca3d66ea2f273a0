"""Files Botwarden writes for itself (keys, secrets, the bot directory, the model registry):
whole or not at all, readable by their owner only."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_private(path: str | os.PathLike[str], text: str, *, replace: bool = True,
                  fsync: bool = False, encoding: str = "utf-8") -> bool:  # fmt: skip
    """Write `text` to `path` (mode 0600, parent directories made) so that a reader sees the
    old file or the new one, never a part. The text goes to a temporary file of its own in
    the same directory (two writers never share one), then:

    - `replace=True`: renamed over `path`;
    - `replace=False`: hard-linked as `path` only if there is no file yet - False when
      there is (another process made it first: it is left as it is, for the caller to read).

    `fsync`: the data is on disk before the file takes its name."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)

    def fill(fd: int) -> None:
        with os.fdopen(fd, "w", encoding=encoding) as fh:
            fh.write(text)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())

    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        fill(fd)
        if replace:
            os.replace(tmp, p)
            return True
        try:
            os.link(tmp, p)  # creates `p` whole, or fails because it exists
        except FileExistsError:
            return False
        except OSError:  # no hard links on this filesystem (some FUSE and network ones):
            try:  # created exclusively, readable part-written for a moment
                fill(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
