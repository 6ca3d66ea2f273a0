"""docs/detections.md, generated from the heuristics table (a test keeps it current)."""

from __future__ import annotations

from botwarden.engines.heuristics import HEURISTICS


def detections_markdown() -> str:
    lines = [
        "# Detection ids",
        "",
        "Every heuristic that gives a request score 1 adds its id to",
        "`cf.bot_management.detection_ids`. Ids are stable: a rule or a report that names",
        "one keeps meaning the same thing across releases. Generated from",
        "`src/botwarden/engines/heuristics.py` by `python -m botwarden.engines.docs`.",
        "",
        "| id | name | what it means |",
        "|---:|---|---|",
    ]
    lines += [f"| {h.id} | `{h.name}` | {h.description} |" for h in HEURISTICS]
    lines += [
        "",
        "Heuristics that read the header set (1030, 1031, 1032) are not applied to access-log",
        "lines, which keep only the user agent and referer.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(detections_markdown(), end="")
