"""Keep the facts in docs/instructor_guide.md in step with the notebooks.

    python tools/instructor_guide.py            # refresh the generated blocks in the guide
    python tools/instructor_guide.py --check    # exit 1 if a block is stale or a notebook has no section

The guide has one section per notebook. Its objectives (whole, however many lines each takes), estimated time,
section list (every numbered ``##`` heading, also those further down a cell) and exercise answers come from the
notebook itself, between ``<!-- generated NN -->`` and ``<!-- /generated NN -->``; the table of expected outputs,
between ``<!-- generated outputs -->`` and ``<!-- /generated outputs -->``, comes from the stored outputs of every
notebook. The measured numbers come from the stored runs in ``docs/measured/``, each with its command: how long
every notebook takes (``<!-- generated timings -->``, from ``notebooks.json``, which
``tools/measure_notebooks.py --json`` writes), what the thread cap is worth (``<!-- generated threads -->``, from
``bench_threads.json`` and ``bench_threads_4.json``, which ``tools/bench_threads.py`` writes) and the sizing of a
hub worked out from them (``<!-- generated sizing -->``). The key figure, the common misconceptions, the lesson
plans and the advice for a class are written by hand around them; they state no measured number.
``tests/test_instructor_guide.py`` fails when a generated block is out of date.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_student import BEGIN, course_notebooks, solution_source  # noqa: E402
from measure_notebooks import BINDER_LIMIT_MB  # noqa: E402
from nbtools import ROOT  # noqa: E402

GUIDE = ROOT / "docs" / "instructor_guide.md"
_BLOCK = re.compile(r"<!-- generated (\d\d|outputs|threads|timings|sizing) -->\n.*?<!-- /generated \1 -->", re.DOTALL)
OUTPUTS = "outputs"
"""The name of the block that holds the table of expected outputs."""
THREADS = "threads"
"""The name of the block that quotes the stored measurements of the thread cap."""
TIMINGS = "timings"
"""The name of the block that quotes how long every notebook ran, from ``docs/measured/notebooks.json``."""
SIZING = "sizing"
"""The name of the block that sizes a hub from the stored measurements."""
NAMED = {
    OUTPUTS: "the expected outputs",
    THREADS: "the thread measurement",
    TIMINGS: "the timings",
    SIZING: "the sizing of a hub",
}
"""The blocks that are not a notebook's section, and what the tool calls each when the guide lacks it."""
MEASURED = ROOT / "docs" / "measured"
BENCH_THREADS = MEASURED / "bench_threads.json"
"""Two training processes on the measuring machine's cores: the cap against PyTorch's default."""
BENCH_THREADS_HUB = MEASURED / "bench_threads_4.json"
"""Four processes on the same cores, more kernels than cores as on a hub: its capped side's CPU time per step is
the cost of a step in core-seconds that the sizing uses."""
NOTEBOOK_TIMES = MEASURED / "notebooks.json"
"""``tools/measure_notebooks.py --json``: the wall time and the kernel's peak memory of every course notebook."""
HEAVY_SECONDS = 60
"""A notebook whose Run all took at least this long is named under *Timings* as one of the heavy ones."""
EXAMPLE_CLASS = (30, 16)
"""The sizing's worked example: this many learners on a node of this many cores (an example, not a measurement)."""


def _plan(nb: nbformat.NotebookNode) -> tuple[list[str], str]:
    text = next((c.source for c in nb.cells[:3] if "**Learning objectives**" in c.source), "")
    objectives = bullets(text.split("**Estimated time:**")[0].split("**Learning objectives**")[-1])
    minutes = re.search(r"\*\*Estimated time:\*\* (\d+) minutes", text)
    return objectives, minutes.group(1) if minutes else "?"


def bullets(text: str) -> list[str]:
    """The items of a Markdown bullet list, each whole: the lines that continue an item (indented or not) join it;
    a blank line or the next bullet ends it."""
    items: list[str] = []
    open_item = False
    for line in text.splitlines():
        if re.match(r"^[-*] ", line):
            items.append(line[2:].strip())
            open_item = True
        elif open_item and line.strip():
            items[-1] += " " + line.strip()
        else:
            open_item = False
    return items


def sections(nb: nbformat.NotebookNode) -> list[str]:
    """Every numbered ``## N. …`` heading of the notebook, wherever it stands in its cell (not in code blocks)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in cell.source.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and re.match(r"^## \d", line):
                found.append(line[3:].strip())
    return found


def _exercises(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(heading, solution code) for each exercise cell, under the nearest ``### Exercise`` heading."""
    found, heading = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = [line[4:].strip() for line in cell.source.splitlines() if line.startswith("### ")]
            heading = headings[-1] if headings else heading
        elif BEGIN in cell.source:
            found.append((heading, solution_source(cell.source)))
    return found


def generated_block(path: Path) -> str:
    """The generated part of a notebook's section: time, objectives, sections, exercise answers."""
    nb = nbformat.read(path, as_version=4)
    number = path.name[:2]
    objectives, minutes = _plan(nb)
    lines = [
        f"<!-- generated {number} -->",
        f"*File:* [`notebooks/{path.name}`](../notebooks/{path.name}) · "
        f"*student version:* [`notebooks/student/{path.name}`](../notebooks/student/{path.name}) · "
        f"*estimated time:* {minutes} minutes",
        "",
        "**Objectives**",
        "",
    ]
    lines += [f"- {o}" for o in objectives]
    lines += ["", "**Sections:** " + " · ".join(sections(nb)), "", "**Exercise answers**", ""]
    for heading, code in _exercises(nb):
        lines += [f"*{heading}*", "", "```python", code, "```", ""]
    lines.append(f"<!-- /generated {number} -->")
    return "\n".join(lines)


# -- the table of expected outputs, from the stored notebooks ------------------------------------------------------
PINNED = "# NBVAL_CHECK_OUTPUT"
VERDICT_WORDS = re.compile(r"\b(better|worse|within noise|beyond (the )?(seed )?noise|baseline)\b", re.IGNORECASE)
RESULT_WORDS = re.compile(r"\b(accuracy|error|F1|V_Rand|steps)\b")


def printed(cell: nbformat.NotebookNode) -> str:
    """What a code cell printed or returned as text (no figures, no widgets, no warnings)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type == "execute_result" and "application/vnd.jupyter.widget-view+json" not in output.data:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts).strip()


def _short(line: str, width: int = 80) -> str:
    """One output line as a table cell: in backticks, cut at ``width`` characters, ``|`` escaped."""
    line = " ".join(line.replace("`", "").split())
    line = line if len(line) <= width else line[: width - 1].rstrip() + "…"
    return "`" + line.replace("|", "\\|") + "`"


def expected_outputs(path: Path) -> str:
    """One row of the table: the checkers' verdicts, the pinned outputs and the results that vary, as stored."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" and printed(c)]
    pinned = [printed(c) for c in cells if c.source.startswith(PINNED)]
    passed = sum(text.startswith("✅") for text in pinned)
    shown = sum(text.startswith("❌") for text in pinned)
    facts = [line for text in pinned if not text.startswith(("✅", "❌")) for line in text.splitlines()[:1]]
    facts = [line for line in facts if len(line) >= 20 and re.search(r"\d", line)]
    varying = [printed(c) for c in cells if not c.source.startswith(PINNED)]
    lines = [line for text in varying for line in text.splitlines() if not _table_row(line)]
    key = [line for line in lines if VERDICT_WORDS.search(line)] + [line for line in lines if RESULT_WORDS.search(line)]
    key = list(dict.fromkeys(key))[:2]
    checks = f"{passed} × ✅" + (f", {shown} × ❌ on purpose" if shown else "")
    example = f"; e.g. {_short(facts[0])}" if facts else ""
    results = _cells(len(varying)) + ("; e.g. " + "<br>".join(_short(line, 90) for line in key) if key else "")
    return f"| {path.name[:2]} | {checks} | {_cells(len(pinned))}{example} | {results} |"


def _cells(count: int) -> str:
    return f"{count} cell" if count == 1 else f"{count} cells"


def _table_row(line: str) -> bool:
    """A row of a printed table (three or more gaps of two spaces): a number without its column heading."""
    return len(re.findall(r"\S {2,}(?=\S)", line.strip())) >= 3


def outputs_block(paths: list[Path]) -> str:
    """The table of expected outputs of every notebook, as a generated block."""
    lines = [
        f"<!-- generated {OUTPUTS} -->",
        "| notebook | checks that pass (full version) | pinned outputs: the same on every machine | "
        "outputs that vary with the machine and the data (stored run) |",
        "|---|---|---|---|",
    ]
    lines += [expected_outputs(path) for path in paths]
    lines.append(f"<!-- /generated {OUTPUTS} -->")
    return "\n".join(lines)


def threads_block(path: Path = BENCH_THREADS, hub: Path = BENCH_THREADS_HUB) -> str:
    """What the thread cap is worth, in the words of the guide's bullets, from the stored ``bench_threads`` runs: the
    guide once quoted a run (18.9 s against 3.06 s per step) that the stored file no longer held, and a run of four
    processes ("3.7–4.0 s per step, 1.47 s") that no file held."""
    first, second = json.loads(path.read_text()), json.loads(hub.read_text())
    lines = [
        f"<!-- generated {THREADS} -->",
        f"- What the cap is worth (the tool prints a short table), {_bench_run(first, path)}.",
        f"- With more kernels than cores, as on a hub, {_bench_run(second, hub)}.",
        f"<!-- /generated {THREADS} -->",
    ]
    return "\n".join(lines)


def _bench_run(result: dict, path: Path) -> str:
    """One stored ``bench_threads`` run in a sentence: both sides' times, the command, the processor, the load."""
    default, capped = result["summary"]["default"], result["summary"]["capped"]
    machine = result["machine"]
    return (
        f"measured with `{result['command']}` ({result['settings']['processes']} training processes of notebook 08's "
        f"recipe at once on {machine['cores_seen']} cores; `{_relative(path)}` keeps the numbers with the command): "
        f"with PyTorch's default of {_threads(default)} each, **{default['median_s_per_step']} s per step**; capped at "
        f"{_threads(capped)} each, **{capped['median_s_per_step']} s per step**, {result['capped_speedup']}× as fast "
        f"(CPU time per step {default['median_cpu_s_per_step']} s against {capped['median_cpu_s_per_step']} s) — "
        f"{_machine(machine)}"
    )


def _machine(machine: dict) -> str:
    """Where a stored run ran and what else ran beside it, as the guide names it after each measured number."""
    return (
        f"on an {machine['processor']} with a load average of {machine['load_average_before']} before the run (what "
        f"else ran) and {machine['load_average_after']} after it (its own processes included)"
    )


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _minutes(minutes: float) -> str:
    """2.5 as the notebooks write it, 2½; whole numbers without a decimal point."""
    whole, half = divmod(minutes, 1)
    return f"{int(whole)}½" if half == 0.5 else f"{minutes:g}"


def largest_peak(result: dict) -> dict:
    """The notebook whose kernel peaked highest in the stored run: what one learner's kernel needs at most."""
    return max(result["notebooks"], key=lambda n: n["peak_mb"])


def slowest(result: dict) -> tuple[list[dict], float]:
    """The notebooks that ran a minute or more in the stored run, slowest first, and the longest time of the rest:
    the guide said "only 08 and 11 are heavy, everything else runs in seconds" while 12 ran over two minutes."""
    runs = sorted(result["notebooks"], key=lambda n: -n["seconds"])
    heavy = [n for n in runs if n["seconds"] >= HEAVY_SECONDS]
    rest = [n["seconds"] for n in runs if n["seconds"] < HEAVY_SECONDS]
    return heavy, max(rest, default=0.0)


def timings_block(path: Path = NOTEBOOK_TIMES) -> str:
    """How long every notebook's "Run all" takes and its kernel's peak, from the stored ``measure_notebooks`` run:
    the guide said "08 took 161 s and 11 took 97 s (measured for issue 22)", which no file kept, and "Run all takes
    seconds for most notebooks", which nothing measured."""
    from unet_lib import diagnose

    result = json.loads(path.read_text())
    runs, machine = result["notebooks"], result["machine"]
    heavy, rest = slowest(result)
    peak = largest_peak(result)
    both = max(runs, key=lambda n: n["peak_mb"] + n["children_mb"])
    names = [n["name"][:2] for n in runs]
    lines = [
        f"<!-- generated {TIMINGS} -->",
        "- **Timings** below are for learners who do the exercises; Run all itself takes the times in this table, "
        f"each notebook top to bottom in a fresh kernel with `{result['command']}` ({result['mode']} version; "
        f"`{_relative(path)}` keeps the numbers with the command) — {_machine(machine)}; each kernel ran "
        f"{machine['threads']}, on {result['data']}.",
        "",
        "  | notebook | " + " | ".join(names) + " |",
        "  |---|" + "---:|" * len(names),
        "  | Run all, seconds | " + " | ".join(f"{n['seconds']:.0f}" for n in runs) + " |",
        "  | kernel peak, MB | " + " | ".join(f"{n['peak_mb']:.0f}" for n in runs) + " |",
        "  | with its largest child process, MB at most | "
        + " | ".join(f"{n['peak_mb'] + n['children_mb']:.0f}" for n in runs)
        + " |",
        "",
        "  A minute or more: "
        + (", ".join(f"{n['name'][:2]} ({n['seconds']:.0f} s)" for n in heavy) or "none")
        + (f"; every other notebook took at most {math.ceil(rest)} s" if len(heavy) < len(runs) else "")
        + ". Notebook 08 trains for "
        f"{_minutes(diagnose.NOTEBOOK08_MINUTES)} minutes, 11 trains {diagnose.NOTEBOOK11_STEPS} steps of the same "
        f"recipe (or {_minutes(diagnose.NOTEBOOK11_MINUTES)} minutes, whichever comes first). The largest kernel "
        f"peak, **{peak['peak_mb']:.0f} MB**, was notebook {peak['name'][:2]}'s. A notebook that starts a command or "
        "`torchrun` holds its kernel's memory while the child runs: kernel and largest child together needed at most "
        f"**{both['peak_mb'] + both['children_mb']:.0f} MB**, in notebook {both['name'][:2]} (Binder allows about "
        f"{BINDER_LIMIT_MB:,} MB). On the class's machines `doctor --class` says. Nothing needs a GPU.",
        f"<!-- /generated {TIMINGS} -->",
    ]
    return "\n".join(lines)


def sizing_block(hub: Path = BENCH_THREADS_HUB, notebooks: Path = NOTEBOOK_TIMES) -> str:
    """The hub's sizing, its formula and its worked example, from the stored runs: a step costs the capped side's
    median CPU time per step in core-seconds, a kernel the largest peak of the stored notebook runs, whichever notebook
    a learner is in (the guide typed 0.8 core-seconds, 0.9 GB and an example worked out from them, and no file kept
    them; then it took notebook 08's peak while 11's was higher)."""
    from unet_lib import diagnose

    bench = json.loads(hub.read_text())
    cost = bench["summary"]["capped"]["median_cpu_s_per_step"]
    capped_wall = bench["summary"]["capped"]["median_s_per_step"]
    processes, cores = bench["settings"]["processes"], bench["machine"]["cores_seen"]
    peak = largest_peak(json.loads(notebooks.read_text()))
    peak_mb, kernel_gb = peak["peak_mb"], round(peak["peak_mb"] / 1000, 1)
    budget = round(diagnose.NOTEBOOK08_MINUTES * 60)
    few = diagnose.NOTEBOOK08_FEW_STEPS
    learners, node = EXAMPLE_CLASS
    lines = [
        f"<!-- generated {SIZING} -->",
        f"One training step of notebook 08's recipe costs a capped kernel about **{cost} core-seconds**: the capped "
        f"side's median CPU time per step in the {processes}-process run above (`{_relative(hub)}`), "
        f"{_machine(bench['machine'])}. A learner's kernel needs about **{kernel_gb} GB** of memory: the "
        f"largest peak in the run under *Timings*, {peak_mb:.0f} MB in notebook {peak['name'][:2]} "
        f"(`{_relative(notebooks)}`). `doctor --class` measures both on your machines (`doctor --class --threads 1` "
        "times the step a kernel capped at one thread gets); the thread measurement above gives the CPU time per step "
        "of a capped kernel on its own machine.",
        "",
        f"- With *L* learners training at once on *C* cores (capped), a step takes about {cost} × *L* / *C* seconds, "
        f"so notebook 08's {budget}-second budget gives about {budget} × *C* / ({cost} × *L*) steps. Memory: *L* × "
        f"{kernel_gb} GB, plus the hub's own. (For the {processes}-process run above the formula gives {cost} × "
        f"{processes} / {cores} = {cost * processes / cores:.2f} s per step; it measured {capped_wall} s.)",
        "- Notebook 08 prints, after its training cell, the validation accuracy along the run and its verdict against "
        'the "everything is cell" baseline: read them there. Too short a run may end near that baseline: `doctor '
        f"--class` warns when the training cell would make fewer than {few} steps (`diagnose.NOTEBOOK08_FEW_STEPS`), "
        f"and {few} steps in {budget} seconds take at least {few} × {cost} / {budget} = {few * cost / budget:.2f} "
        "cores per learner while the training cell runs.",
        f"- Example: {learners} learners on one {node}-core node: about {cost * learners / node:.1f} s per step, about "
        f"{int(budget * node / (cost * learners))} steps each, {learners * kernel_gb:.0f} GB of memory.",
        f"<!-- /generated {SIZING} -->",
    ]
    return "\n".join(lines)


def _threads(side: dict) -> str:
    counts = sorted(set(side["threads_each"]))
    return " to ".join(str(c) for c in counts) + (" thread" if counts == [1] else " threads")


def refresh(text: str, paths: list[Path]) -> tuple[str, list[str]]:
    """The guide with every generated block rebuilt; also the blocks it lacks (notebooks, then those in ``NAMED``)."""
    blocks = {p.name[:2]: generated_block(p) for p in paths} | {OUTPUTS: outputs_block(paths), THREADS: threads_block()}
    blocks |= {TIMINGS: timings_block(), SIZING: sizing_block()}
    missing = [p.name for p in paths if f"<!-- generated {p.name[:2]} -->" not in text]
    missing += [what for marker, what in NAMED.items() if f"<!-- generated {marker} -->" not in text]
    return _BLOCK.sub(lambda m: blocks.get(m.group(1), m.group(0)), text), missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report a stale or missing section")
    args = parser.parse_args(argv)
    text = GUIDE.read_text()
    new, missing = refresh(text, course_notebooks())
    for name in missing:
        marker = name[:2] if name[:2].isdigit() else next(m for m, what in NAMED.items() if what == name)
        print(
            f"docs/instructor_guide.md has no section for {name}: add one with an empty "
            f"`<!-- generated {marker} -->`…`<!-- /generated {marker} -->` block and run this tool",
            file=sys.stderr,
        )
    if args.check:
        if new != text:
            print("docs/instructor_guide.md is out of date: run `python tools/instructor_guide.py`", file=sys.stderr)
        return 1 if new != text or missing else 0
    if new != text:
        tmp = GUIDE.with_suffix(".md.tmp")
        tmp.write_text(new)
        os.replace(tmp, GUIDE)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
