"""Fuzz the input readers with 100,000 generated inputs (not part of CI; the tests run a sample).

    python scripts/fuzz.py [--inputs 100000]

Targets and shares: the coordinate parser (73 %), the KML reader (12 %), the 界址点 table
reader (12 %) and the rule-file loader (3 %); ``--targets batch_csv,batch_xlsx`` runs the batch
readers instead (a register read, screened and written as `siting batch` does). Each input must be answered or refused with an
InputError naming its field; anything else is counted as a crash and printed. Each input
runs under a 10-second alarm, so a hang is a crash too.
"""

from __future__ import annotations

import argparse
import collections
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.batch_fuzz import batch_case, csv_registers, stack, xlsx_files
from tests.fuzz_cases import (
    boundary_tables,
    coordinate_texts,
    crs_names,
    kml_case,
    kml_documents,
    parse_case,
    rule_case,
    rule_edits,
    table_case,
)

HANG_S = 10
TARGETS = {  # name: (share, strategies, case)
    "coordinates": (0.73, (coordinate_texts, crs_names), parse_case),
    "kml": (0.12, (kml_documents,), kml_case),
    "boundary_table": (0.12, (boundary_tables,), table_case),
    "rule_file": (0.03, (rule_edits,), rule_case),
}
BATCH_TARGETS = {  # run with --targets: shares of --inputs among the targets named
    "batch_csv": (0.9, (csv_registers,), lambda data: batch_case(data, ".csv")),
    "batch_xlsx": (0.1, (xlsx_files,), lambda data: batch_case(data, ".xlsx")),
}


class _Hang(Exception):
    pass


def _alarm(*_: object) -> None:
    raise _Hang


def run(name: str, examples: int, strategies: tuple, case, counts: collections.Counter, crashes: list) -> None:
    def one(args: tuple) -> None:
        signal.alarm(HANG_S)
        try:
            result = case(*args)
        except _Hang:
            result = f"crash: hang over {HANG_S} s"
        finally:
            signal.alarm(0)
        counts[(name, "tried")] += 1
        counts[(name, "crashes" if result.startswith("crash") else result)] += 1
        if result.startswith("crash"):
            crashes.append((name, args, result))

    fuzz = settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))(given(st.tuples(*strategies))(one))
    fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--targets", help="comma-separated target names (default: the four readers above)")
    args = parser.parse_args()
    total = args.inputs
    targets = ({name: spec for name, spec in {**TARGETS, **BATCH_TARGETS}.items() if name in args.targets.split(",")}
               if args.targets else TARGETS)
    signal.signal(signal.SIGALRM, _alarm)
    counts: collections.Counter = collections.Counter()
    crashes: list = []
    if set(targets) & set(BATCH_TARGETS):
        stack()  # load the layers before the hang alarm runs
    start = time.monotonic()
    for name, (share, strategies, case) in targets.items():
        t0 = time.monotonic()
        run(name, round(total * share), strategies, case, counts, crashes)
        print(f"{name:<15} tried {counts[(name, 'tried')]:>7}  ok {counts[(name, 'ok')]:>7}  "
              f"refused {counts[(name, 'refused')]:>7}  crashes {counts[(name, 'crashes')]}  ({time.monotonic() - t0:.0f} s)")
    for name, args, result in crashes[:20]:
        print(f"CRASH {name}: {args!r}: {result}")
    tried = sum(v for (_, kind), v in counts.items() if kind == "tried")
    print(f"inputs tried {tried}, crashes {len(crashes)}, hangs {sum('hang' in c[2] for c in crashes)}, "
          f"{time.monotonic() - start:.0f} s")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
