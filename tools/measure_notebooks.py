"""Time and peak memory of every course notebook, run as a learner runs it (Binder allows about 2 GB).

    python tools/measure_notebooks.py                 # every notebooks/NN_*.ipynb, full learner version
    python tools/measure_notebooks.py --fast notebooks/0[0-5]_*.ipynb    # as under test (UNET_FAST=1)
    python tools/measure_notebooks.py --json docs/measured/notebooks.json   # also keep the numbers, with the machine

Each notebook runs top to bottom in a fresh kernel (its own folder, inline figures, the real data);
a last cell, added only in memory, reads the peak resident memory of the kernel and of its largest child process
(a command or ``torchrun`` the notebook starts) with ``resource.getrusage`` (Linux gives KiB; printed and stored
as MB of 10^6 bytes, the unit the doctor's GB and the instructor guide use). Nothing is written back. Prints one
line per notebook and the largest kernel peak plus child's, which fails the run (exit 1) above Binder's limit;
``--json`` keeps them with the command, the processor, the threads and the load average, so that a time the
instructor guide quotes (how long notebook 08 runs) can come from a stored run rather than from prose.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import NOTEBOOKS, kernel_env  # noqa: E402

BINDER_LIMIT_MB = 2000
"""mybinder.org gives a session about 2 GB of memory; a kernel whose peak passes this fails the run (exit 1)."""
KIB_PER_MB = 1e6 / 1024
"""``ru_maxrss`` counts KiB (1,024 bytes); the course writes memory in decimal MB and GB, as ``doctor`` does."""
PROBE = (
    "import resource as _r\n"
    "print('UNET_PEAK_KB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss, _r.getrusage(_r.RUSAGE_CHILDREN).ru_maxrss)"
)
_PEAK = re.compile(r"UNET_PEAK_KB (\d+) (\d+)")


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_mb: float
    children_mb: float

    @property
    def at_most_mb(self) -> float:
        """The kernel's peak plus its largest child's (a ``python -m unet_lib`` or ``torchrun`` the notebook starts,
        while the kernel holds its own memory): what the session needs at most, and what Binder's limit is for."""
        return self.peak_mb + self.children_mb


def measure(path: Path, fast: bool = False, timeout: int = 1800) -> Measurement:
    """Run one notebook in a fresh kernel; its wall time and the kernel's peak RSS in MB (``ru_maxrss``: KiB)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute(env=kernel_env(fast))
    seconds = time.perf_counter() - start
    text = "".join(str(o.get("text", "")) for o in nb.cells[-1].outputs)
    match = _PEAK.search(text)
    if not match:
        raise RuntimeError(f"{path.name}: the memory probe printed nothing ({text!r})")
    return Measurement(path.name, seconds, int(match.group(1)) / KIB_PER_MB, int(match.group(2)) / KIB_PER_MB)


def write_json(path: Path, results: list[Measurement], argv: list[str], fast: bool, load_before: float) -> None:
    """The measurements with what they depend on: the machine, its threads, and what else ran (load average)."""
    from unet_lib import runtime
    from unet_lib.data import load_dataset

    result = {
        "about": "tools/measure_notebooks.py: each notebook top to bottom in a fresh kernel, wall time and peak RSS",
        "command": " ".join(["python tools/measure_notebooks.py", *argv]),
        "mode": "fast" if fast else "full",
        "memory_unit": "MB (10^6 bytes)",
        "data": load_dataset(verbose=False).description,  # what the kernels found too: the real slices take longer
        "machine": {
            "processor": runtime.processor(),
            "threads": runtime.decide_threads().describe(),
            "load_average_before": load_before,
            "load_average_after": round(os.getloadavg()[0], 2),
        },
        "notebooks": [{k: round(v, 1) if isinstance(v, float) else v for k, v in asdict(r).items()} for r in results],
    }
    runtime.write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="default: every course notebook")
    parser.add_argument("--fast", action="store_true", help="run with UNET_FAST=1, as the tests do")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds one cell may take (default 1800)")
    parser.add_argument("--json", type=Path, help="also write the measurements, with the machine, to this file")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    load_before = round(os.getloadavg()[0], 2)
    print(
        f"{'notebook':45} {'seconds':>8} {'peak MB':>8} {'children MB':>12}   ({'fast' if args.fast else 'full'} mode)"
    )
    results = []
    for path in paths:
        result = measure(path, fast=args.fast, timeout=args.timeout)
        results.append(result)
        print(f"{result.name:45} {result.seconds:8.1f} {result.peak_mb:8.0f} {result.children_mb:12.0f}", flush=True)
    if args.json is not None:
        write_json(args.json, results, argv if argv is not None else sys.argv[1:], args.fast, load_before)
    if results:
        worst = max(results, key=lambda r: r.at_most_mb)
        print(
            f"largest kernel peak plus its largest child's: {worst.at_most_mb:.0f} MB at most in {worst.name} (Binder "
            f"allows about {BINDER_LIMIT_MB} MB)"
        )
        return 1 if worst.at_most_mb > BINDER_LIMIT_MB else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
