"""Which model runs where — one place that changes it, for the CLI and the API alike.

Two stores, one story:

- the file registry (`ml/registry.py`, `<data dir>/models/registry.json`) holds the
  artifacts and the *global* state: the active version, its history (for rollback) and
  the shadow version. Edges read only this file (a cheap stamp check), so the per-zone
  pins they obey are mirrored into it as well;
- the configuration store is authoritative for *per-zone* choices — a zone's
  `auto_update_model` and `model_pin` (what the API's bot-management settings expose) —
  and mirrors every version (`model_versions`: state, parent, the reports it learned
  from) for the API.

Every change goes through `ModelControl`: it writes the store first, then the registry
(the store's zones are re-mirrored into the registry on each change). A promotion moves
every zone that auto-updates; a zone with auto-update off is pinned to the version it ran
before, so it does not move. Rollback is a promotion of the previous version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botwarden.errors import ConfigError

if TYPE_CHECKING:
    from botwarden.ml.registry import Registry
    from botwarden.store import Store


class ModelControl:
    def __init__(self, registry: Registry, store: Store | None = None) -> None:
        self.registry = registry
        self.store = store

    # -- mirroring ----------------------------------------------------------------------

    def mirror(self, version: str, *, promoted: bool = False) -> None:
        """Copy one registry version into the store's model_versions table."""
        if self.store is None:
            return
        info = self.registry.info(version)
        meta = info.meta
        self.store.mirror_model(
            version,
            state=info.state,
            parent=meta.get("parent"),
            metrics=meta.get("metrics") or {},
            description=str(meta.get("description") or meta.get("source") or ""),
            fingerprint=str(meta.get("onnx_sha256", ""))[:16],
            feedback_reports=list(meta.get("feedback_reports") or ()),
            promoted=promoted,
        )

    def mirror_all(self) -> None:
        for info in self.registry.versions():
            self.mirror(info.version, promoted=False)

    def sync_zones(self) -> None:
        """Mirror the store's per-zone pins into the registry the edges read."""
        if self.store is None:
            return
        page = 1
        while True:
            zones, total = self.store.list_zones(page=page, per_page=100)
            for z in zones:
                st = self.store.get_settings(z.id)
                want = st.model_pin if st.model_pin in self.registry.doc["versions"] else None
                if self.registry.zone(z.id)["pin"] != want:
                    self.registry.pin(z.id, want)
            if not zones or page * 100 >= total:
                break
            page += 1

    def _freeze_manual_zones(self) -> None:
        """Before the active version changes: zones without auto-update keep theirs."""
        if self.store is None or self.registry.active is None:
            return
        page = 1
        while True:
            zones, total = self.store.list_zones(page=page, per_page=100)
            for z in zones:
                st = self.store.get_settings(z.id)
                if not st.auto_update_model and st.model_pin is None:
                    self.mirror(self.registry.active)
                    self.store.update_settings(z.id, {"model_pin": self.registry.active})
            if not zones or page * 100 >= total:
                break
            page += 1

    # -- changes ------------------------------------------------------------------------

    def promote(self, version: str) -> str:
        """Make `version` active; returns the version that was active before."""
        self.registry.info(version)
        old = self.registry.active
        self._freeze_manual_zones()
        self.registry.promote(version)
        if old is not None:
            self.mirror(old)
        self.mirror(version, promoted=True)
        self.sync_zones()
        return old or ""

    def rollback(self) -> str:
        """Reactivate the previous active version; returns it."""
        current = self.registry.active
        self._freeze_manual_zones()
        previous = self.registry.rollback()
        if current is not None:
            self.mirror(current)
        self.mirror(previous, promoted=True)
        self.sync_zones()
        return previous

    def pin(self, zone: str, version: str | None) -> None:
        """Pin `zone` (None: follow the active version; auto-update on again)."""
        if version is not None:
            self.registry.info(version)
        if self.store is not None:
            zone_id = self._zone_id(zone)
            if version is not None:
                self.mirror(version)
            self.store.update_settings(
                zone_id, {"model_pin": version, "auto_update_model": version is None}
            )
            self.sync_zones()
        else:
            self.registry.pin(zone, version)

    def set_auto_update(self, zone: str, on: bool) -> None:
        if self.store is not None:
            zone_id = self._zone_id(zone)
            changes: dict[str, object] = {"auto_update_model": on}
            if on:
                changes["model_pin"] = None
            elif self.store.get_settings(zone_id).model_pin is None and self.registry.active:
                self.mirror(self.registry.active)
                changes["model_pin"] = self.registry.active
            self.store.update_settings(zone_id, changes)
            self.sync_zones()
        else:
            self.registry.set_auto_update(zone, on)

    def set_shadow(self, version: str | None) -> None:
        self.registry.set_shadow(version)
        if version is not None:
            self.mirror(version)

    def resolve(self, zone: str | None) -> str | None:
        return self.registry.resolve(zone)

    def _zone_id(self, zone: str) -> str:
        assert self.store is not None
        from botwarden.store import NotFound

        try:
            return self.store.get_zone(zone).id
        except (NotFound, ValueError):
            pass
        page = 1
        while True:
            zones, total = self.store.list_zones(page=page, per_page=100)
            for z in zones:
                if z.name == zone:
                    return z.id
            if not zones or page * 100 >= total:
                break
            page += 1
        raise ConfigError(f"no zone {zone!r} in the store (give its id or name)")


__all__ = ["ModelControl"]
