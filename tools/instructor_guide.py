"""Keep the facts in docs/instructor_guide.md in step with the notebooks.

    python tools/instructor_guide.py            # refresh the generated blocks in the guide
    python tools/instructor_guide.py --check    # exit 1 if a block is stale or a notebook has no section

The guide has one section per notebook. Its objectives (whole, however many lines each takes), estimated time,
section list (every numbered ``##`` heading, also those further down a cell) and exercise answers come from the
notebook itself, between ``<!-- generated NN -->`` and ``<!-- /generated NN -->``; the table of expected outputs,
between ``<!-- generated outputs -->`` and ``<!-- /generated outputs -->``, comes from the stored outputs of every
notebook; the measurement of the thread cap, between ``<!-- generated threads -->`` and
``<!-- /generated threads -->``, comes from ``docs/measured/bench_threads.json`` (``tools/bench_threads.py`` writes
it). The key figure, the common misconceptions, the lesson plans and the advice for a class are written by hand
around them. ``tests/test_instructor_guide.py`` fails when a generated block is out of date.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_student import BEGIN, course_notebooks, solution_source  # noqa: E402
from nbtools import ROOT  # noqa: E402

GUIDE = ROOT / "docs" / "instructor_guide.md"
_BLOCK = re.compile(r"<!-- generated (\d\d|outputs|threads) -->\n.*?<!-- /generated \1 -->", re.DOTALL)
OUTPUTS = "outputs"
"""The name of the block that holds the table of expected outputs."""
THREADS = "threads"
"""The name of the block that quotes the stored measurement of the thread cap."""
BENCH_THREADS = ROOT / "docs" / "measured" / "bench_threads.json"


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


def threads_block(path: Path = BENCH_THREADS) -> str:
    """What the thread cap is worth, in the words of the guide's bullet, from the stored ``bench_threads`` run: the
    guide once quoted a run (18.9 s against 3.06 s per step) that the stored file no longer held."""
    result = json.loads(path.read_text())
    default, capped = result["summary"]["default"], result["summary"]["capped"]
    machine = result["machine"]
    processes = result["settings"]["processes"]
    lines = [
        f"<!-- generated {THREADS} -->",
        f"- What the cap is worth, measured with `{result['command']}` ({processes} training processes of notebook "
        f"08's recipe at once on {machine['cores_seen']} cores; its output is a short table, and "
        "`docs/measured/bench_threads.json` keeps the numbers with the command): with PyTorch's default of "
        f"{_threads(default)} each, **{default['median_s_per_step']} s per step**; capped at {_threads(capped)} each, "
        f"**{capped['median_s_per_step']} s per step**, {result['capped_speedup']}× as fast (CPU time per step "
        f"{default['median_cpu_s_per_step']} s against {capped['median_cpu_s_per_step']} s) — on an "
        f"{machine['processor']} with a load average of {machine['load_average_before']} before the run and "
        f"{machine['load_average_after']} after it (what else ran beside it).",
        f"<!-- /generated {THREADS} -->",
    ]
    return "\n".join(lines)


def _threads(side: dict) -> str:
    counts = sorted(set(side["threads_each"]))
    return " to ".join(str(c) for c in counts) + (" thread" if counts == [1] else " threads")


def refresh(text: str, paths: list[Path]) -> tuple[str, list[str]]:
    """The guide with every generated block rebuilt; also the blocks it lacks (notebooks, the outputs table, the
    thread measurement)."""
    blocks = {p.name[:2]: generated_block(p) for p in paths} | {OUTPUTS: outputs_block(paths), THREADS: threads_block()}
    missing = [p.name for p in paths if f"<!-- generated {p.name[:2]} -->" not in text]
    missing += [] if f"<!-- generated {OUTPUTS} -->" in text else ["the expected outputs"]
    missing += [] if f"<!-- generated {THREADS} -->" in text else ["the thread measurement"]
    return _BLOCK.sub(lambda m: blocks.get(m.group(1), m.group(0)), text), missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report a stale or missing section")
    args = parser.parse_args(argv)
    text = GUIDE.read_text()
    new, missing = refresh(text, course_notebooks())
    for name in missing:
        marker = name[:2] if name[:2].isdigit() else THREADS if name == "the thread measurement" else OUTPUTS
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
