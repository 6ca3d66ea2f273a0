"""docs/simulator.md documents every population, as the registry defines it."""

from __future__ import annotations

from pathlib import Path

from botwarden.simulate.populations import populations

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"


def test_every_population_has_a_row() -> None:
    rows = {line.split("|")[1].strip().strip("`") for line in DOC.read_text().splitlines()
            if line.startswith("| `")}  # fmt: skip
    assert rows == set(populations())


def test_rows_state_label_and_group() -> None:
    pops = populations()
    for line in DOC.read_text().splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.split("|")[1:-1]]
            pop = pops[cells[0].strip("`")]
            assert (cells[1], cells[2]) == (pop.label, pop.group), cells[0]
