"""The navigation of base.html: one entry per page, in order. A zone page's path has
`{zone}`; it is shown when a zone is open. Pages not built yet answer 404 until their
module is added to `pages.PAGES`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    """What a page passes as `nav_active` to be shown as the current one."""
    title: str
    path: str
    """Below the dashboard's mount path; `{zone}` is the open zone's id."""

    @property
    def per_zone(self) -> bool:
        return "{zone}" in self.path

    def href(self, base: str, zone_id: str | None) -> str | None:
        if self.per_zone:
            return None if zone_id is None else base + self.path.format(zone=zone_id)
        return base + self.path


NAV: tuple[NavItem, ...] = (
    NavItem("zones", "Zones", "/"),
    NavItem("analytics", "Bot Analytics", "/zones/{zone}/analytics"),
    NavItem("feedback", "Feedback", "/zones/{zone}/feedback"),
    NavItem("rules", "Rules", "/zones/{zone}/rules"),
    NavItem("settings", "Settings", "/zones/{zone}/settings"),
    NavItem("models", "Models", "/models"),
)
