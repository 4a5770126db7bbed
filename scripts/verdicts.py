"""The benchmarks' targets, each with its figure and PASS or MISS, printed at the end of a
run. A benchmark run by another (`bench_engine.py` runs `bench_scale.py`) hands its own to
it: each is also appended, as a JSON line, to the file KZCARRIER_BENCH_VERDICTS names."""
from __future__ import annotations

import json
import os
from pathlib import Path

HANDED_OVER = "KZCARRIER_BENCH_VERDICTS"


class Verdicts:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, bool]] = []     # (target, figure, met)

    def add(self, target: str, figure: float | str, met: bool, unit: str = "") -> None:
        row = (target, figure if isinstance(figure, str) else f"{figure:.2f}{unit}",
               bool(met))
        self.rows.append(row)
        if os.environ.get(HANDED_OVER):
            with open(os.environ[HANDED_OVER], "a") as out:
                out.write(json.dumps(row) + "\n")

    def take(self, path: Path) -> None:
        """The verdicts another benchmark handed over in `path`."""
        if path.exists():
            self.rows += [tuple(json.loads(line)) for line in path.read_text().splitlines()]

    def print(self) -> None:
        print("\ntargets (this run, this server):")
        for target, figure, met in self.rows:
            print(f"  {'PASS' if met else 'MISS'}  {target:<60}{figure}")
