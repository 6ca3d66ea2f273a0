"""Model versions v1, v2, …: files under the data directory, states, zone pins, shadow.

Layout (`$BOTWARDEN_DATA_DIR/models/`, default `./data/models/`):

    registry.json        states, the active version and its history, per-zone pins and
                         auto-update, the shadow version, a revision counter
    v1/ v2/ …            model.onnx, model.txt, meta.json (created, training-data digest
                         and size, feature-schema hash, parent, metrics, calibration)

v1 is the base model shipped in the package (`botwarden/data/models/base`), copied in
the first time the registry is opened. A trained model enters as a *candidate*;
`promote` makes it *active* (the previous active is *retired*); `rollback` reactivates
the version that was active before. A zone follows the active version (Cloudflare's
`auto_update_model`), or is pinned to one; turning auto-update off pins the zone to the
version it runs now. A *shadow* version scores alongside the active one, and both
scores are recorded, before it is promoted. Every change bumps `revision` and is
written atomically; edges notice and reload.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botwarden.errors import ConfigError
from botwarden.files import write_private
from botwarden.ml.model import META_FILE, read_meta

CANDIDATE, ACTIVE, RETIRED = "candidate", "active", "retired"
REGISTRY_FILE = "registry.json"
_VERSION = re.compile(r"^v(\d+)$")


def base_model_dir() -> Path:
    """The base model shipped as package data."""
    from botwarden import data

    return data.path("models/base")


def default_root() -> Path:
    from botwarden.bots import data_dir

    return data_dir() / "models"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    state: str
    meta: dict[str, Any]
    directory: Path

    @property
    def number(self) -> int:
        m = _VERSION.match(self.version)
        return int(m.group(1)) if m else 0


class Registry:
    def __init__(self, root: Path | None = None, *, base: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.base = base if base is not None else base_model_dir()
        self.doc: dict[str, Any] = {}
        self.load()

    # -- persistence ----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self.root / REGISTRY_FILE

    def load(self) -> None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            doc = None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.path}: unreadable model registry ({exc})") from None
        if doc is None:
            doc = {"revision": 0, "versions": {}, "active": None, "history": [], "zones": {},
                   "shadow": None}  # fmt: skip
        if not isinstance(doc, dict) or not isinstance(doc.get("versions"), dict):
            raise ConfigError(f"{self.path}: not a model registry")
        self.doc = doc
        if not self.doc["versions"] and (self.base / META_FILE).is_file():
            self._adopt_base()

    def _save(self) -> None:
        self.doc["revision"] = int(self.doc.get("revision", 0)) + 1
        write_private(self.path, json.dumps(self.doc, indent=2, sort_keys=True) + "\n")

    @property
    def revision(self) -> int:
        return int(self.doc.get("revision", 0))

    def stamp(self) -> tuple[int, int]:
        """(mtime_ns, size) of registry.json, for cheap change detection."""
        try:
            st = self.path.stat()
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    # -- versions -------------------------------------------------------------------------

    def _adopt_base(self) -> None:
        dest = self.root / "v1"
        self._copy(self.base, dest, "v1", parent=None, source="package base model")
        self.doc["versions"]["v1"] = {"state": ACTIVE, "added": _now(), "promoted": _now()}
        self.doc["active"] = "v1"
        self.doc["history"] = ["v1"]
        self._save()

    @staticmethod
    def _copy(
        src: Path,
        dest: Path,
        version: str,
        *,
        parent: str | None,
        source: str,
        description: str = "",
    ) -> None:
        meta = read_meta(src)
        if description:  # what the registering user said wins over the training's note
            meta["description"] = description
        if dest.exists():
            shutil.rmtree(dest)
        tmp = dest.with_name(f".{dest.name}.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        shutil.copytree(src, tmp)
        meta["version"] = version
        meta["parent"] = parent if parent is not None else meta.get("parent")
        meta["source"] = source
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, dest)

    def versions(self) -> list[VersionInfo]:
        out = []
        for v, entry in self.doc["versions"].items():
            d = self.root / v
            try:
                meta = read_meta(d)
            except ConfigError:
                meta = {}
            out.append(VersionInfo(v, str(entry.get("state")), meta, d))
        return sorted(out, key=lambda i: i.number)

    def info(self, version: str) -> VersionInfo:
        entry = self.doc["versions"].get(version)
        if entry is None:
            known = ", ".join(self.doc["versions"]) or "none"
            raise ConfigError(f"no model version {version!r} (known: {known})")
        return VersionInfo(version, str(entry.get("state")), read_meta(self.root / version),
                           self.root / version)  # fmt: skip

    def directory(self, version: str) -> Path:
        return self.info(version).directory

    def add(self, model_dir: Path, *, parent: str | None = None, description: str = "") -> str:
        """Register a trained model directory as the next version, a candidate."""
        numbers = [int(m.group(1)) for v in self.doc["versions"] if (m := _VERSION.match(v))]
        version = f"v{max(numbers, default=0) + 1}"
        if parent is None:
            parent = self.doc.get("active")
        self._copy(Path(model_dir), self.root / version, version, parent=parent,
                   source=description or f"trained ({Path(model_dir).name})",
                   description=description)  # fmt: skip
        self.doc["versions"][version] = {"state": CANDIDATE, "added": _now()}
        self._save()
        return version

    @property
    def active(self) -> str | None:
        a = self.doc.get("active")
        return str(a) if a else None

    @property
    def shadow(self) -> str | None:
        s = self.doc.get("shadow")
        return str(s) if s else None

    def promote(self, version: str) -> None:
        """Make `version` the active model (every zone that auto-updates runs it)."""
        self.info(version)
        old = self.active
        if old == version:
            return
        if old is not None:
            self.doc["versions"][old]["state"] = RETIRED
            self.doc["versions"][old]["retired"] = _now()
        entry = self.doc["versions"][version]
        entry["state"] = ACTIVE
        entry["promoted"] = _now()
        self.doc["active"] = version
        self.doc["history"].append(version)
        if self.doc.get("shadow") == version:
            self.doc["shadow"] = None
        self._save()

    def rollback(self) -> str:
        """Reactivate the version that was active before the current one; returns it."""
        history: list[str] = [v for v in self.doc["history"] if v in self.doc["versions"]]
        current = self.active
        while history and history[-1] == current:
            history.pop()
        if not history:
            raise ConfigError("nothing to roll back to: no earlier active version")
        previous = history[-1]
        if current is not None:
            self.doc["versions"][current]["state"] = RETIRED
            self.doc["versions"][current]["retired"] = _now()
        self.doc["versions"][previous]["state"] = ACTIVE
        self.doc["versions"][previous]["promoted"] = _now()
        self.doc["active"] = previous
        self.doc["history"] = history
        self._save()
        return previous

    def set_shadow(self, version: str | None) -> None:
        """Score `version` alongside the active model (None stops shadow scoring)."""
        if version is not None and self.info(version).state == ACTIVE:
            raise ConfigError(f"{version} is the active model; shadow a candidate")
        self.doc["shadow"] = version
        self._save()

    # -- zones ------------------------------------------------------------------------------

    def zone(self, zone: str) -> dict[str, Any]:
        z = self.doc["zones"].get(zone) or {}
        return {"pin": z.get("pin"), "auto_update": bool(z.get("auto_update", True))}

    def pin(self, zone: str, version: str | None) -> None:
        """Pin `zone` to `version` (None: unpin, follow the active model again)."""
        if version is not None:
            self.info(version)
        z = self.doc["zones"].setdefault(zone, {})
        z["pin"] = version
        z["auto_update"] = version is None
        self._save()

    def set_auto_update(self, zone: str, on: bool) -> None:
        """Cloudflare's `auto_update_model`: off keeps the zone on the version it runs."""
        z = self.doc["zones"].setdefault(zone, {})
        if on:
            z["pin"] = None
        elif not z.get("pin"):
            z["pin"] = self.active
        z["auto_update"] = on
        self._save()

    def resolve(self, zone: str | None) -> str | None:
        """The version a request of `zone` is scored with."""
        if zone:
            z = self.doc["zones"].get(zone)
            if z and z.get("pin") and z["pin"] in self.doc["versions"]:
                return str(z["pin"])
        return self.active
