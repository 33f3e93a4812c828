"""How fast the course computes, side by side with a textbook fp32 baseline, in one process (issue 9).

    python tools/bench_speed.py                 # the table (a few minutes on 2 CPU cores)
    python tools/bench_speed.py --json out.json # the same numbers as JSON
    python tools/bench_speed.py --quick         # tiny sizes: checks that everything runs (tests use it)

Every comparison runs the course's way (A) and the textbook way (B) alternately, several times, and reports
medians and the ratio B / A, because absolute times on a shared machine are noisy (±25 %); ratios measured in
one process are what to trust. Rows:

* convolution ceiling — one 3×3 convolution, 256 channels, 128²: fp32 (NCHW, channels_last) and, where the
  processor has a fast path, bf16 under autocast; GFLOP/s. The other rows report their fraction of it.
* paper forward — the paper's U-Net (31,030,658 parameters) on one 572² tile: ``UNetModel`` in the precision
  ``runtime.choose_precision("auto")`` picks, against a textbook eager U-Net in fp32.
* CPU-recipe training step — 16 base channels, depth 4, batch norm, 2 × 380² tiles, Adam, the weighted
  cross-entropy in fp32: ``train.train_step`` (auto precision) against a textbook fp32 step.
* whole-slice prediction — one 512² ISBI-sized slice with the shipped checkpoint: ``tiling.predict_probability``
  (the cheapest tile, auto precision) against a textbook loop of 572² overlap tiles in fp32.
* layouts — per workload (inference with the shipped configuration at 700², a CPU-recipe training step), the
  same model in NCHW and in channels_last, and what ``runtime.layout_on_the_work`` chooses for it (issue 21).
* predict command — ``python -m unet_lib predict`` on the 30 ISBI test slices (when present) against a textbook
  loop that reads each slice, predicts it tile by tile in fp32 and writes the same three PNGs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from unet_lib import checkpoints, cli, runtime, tiling, train  # noqa: E402
from unet_lib.isbi2012 import DataUnavailable, load_isbi2012  # noqa: E402
from unet_lib.losses import weighted_cross_entropy  # noqa: E402
from unet_lib.model import UNetModel  # noqa: E402


# -- the textbook baseline: a plain U-Net and plain loops, fp32, NCHW, as most tutorials write them -------------
class TextbookUNet(nn.Module):
    """A valid-padding U-Net as a tutorial writes it (same layers and sizes as the paper's), fp32 eager."""

    def __init__(self, base: int = 64, depth: int = 4, batch_norm: bool = False) -> None:
        super().__init__()
        widths = [base * 2**k for k in range(depth + 1)]

        def block(c_in: int, c_out: int) -> nn.Sequential:
            norm = (lambda: nn.BatchNorm2d(c_out)) if batch_norm else nn.Identity
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3), norm(), nn.ReLU(), nn.Conv2d(c_out, c_out, 3), norm(), nn.ReLU()
            )

        self.down = nn.ModuleList(block(a, b) for a, b in zip([1] + widths, widths))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, 2) for k in reversed(range(depth)))
        self.up_blocks = nn.ModuleList(block(2 * widths[k], widths[k]) for k in reversed(range(depth)))
        self.head = nn.Conv2d(base, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.down[:-1]:
            x = down(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.down[-1](x)
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips)):
            x = up(x)
            top = (skip.shape[-1] - x.shape[-1]) // 2
            x = block(torch.cat([skip[..., top : top + x.shape[-2], top : top + x.shape[-1]], x], dim=1))
        return self.head(x)


def textbook_probability(model: nn.Module, image: np.ndarray, tile: int = 572) -> np.ndarray:
    """The overlap-tile loop of a tutorial: reflect-pad, 572² tiles one at a time, fp32, softmax, stitch."""
    out = tile - 184
    height, width = image.shape
    z = (image - image.mean()) / (image.std() or 1.0)
    padded = np.pad(z, ((92, 92 + out), (92, 92 + out)), mode="reflect").astype(np.float32)
    result = np.zeros((height, width), np.float32)
    with torch.no_grad():
        for top in range(0, height, out):
            for left in range(0, width, out):
                x = torch.from_numpy(padded[top : top + tile, left : left + tile].copy())[None, None]
                p = torch.softmax(model(x), dim=1)[0, 1].numpy()
                result[top : top + out, left : left + out] = p[: height - top, : width - left]
    return result


# -- measuring -----------------------------------------------------------------------------------------------
def flops(work: Callable[[], object]) -> float:
    """Floating-point operations of one call (PyTorch's counter: 2 per multiply-add of convolutions)."""
    with FlopCounterMode(display=False) as counter:
        work()
    return float(counter.get_total_flops())


def interleaved(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, run alternately (A B B A …) after one warm-up each."""
    a(), b()
    times: dict[str, list[float]] = {"a": [], "b": []}
    for k in range(repeats):
        for name in "ab" if k % 2 == 0 else "ba":
            start = time.perf_counter()
            (a if name == "a" else b)()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["a"]), statistics.median(times["b"])


def conv_ceiling(quick: bool, repeats: int) -> dict[str, float]:
    """GFLOP/s of one 3×3 convolution in each format this machine offers."""
    channels, size = (32, 32) if quick else (256, 128)
    conv = nn.Conv2d(channels, channels, 3, padding=1).eval()
    x = torch.randn(1, channels, size, size)
    work = 2 * channels * channels * 9 * size * size
    formats = {"fp32 NCHW": runtime.Precision("cpu"), "fp32 channels_last": runtime.Precision("cpu", None, True)}
    if runtime.low_precision_candidate("cpu") is not None:
        formats["bf16 NCHW"] = runtime.Precision("cpu", torch.bfloat16, False)
        formats["bf16 channels_last"] = runtime.Precision("cpu", torch.bfloat16, True)
    result = {}
    for name, how in formats.items():
        layer, inputs = conv.to(memory_format=how.memory_format), x.contiguous(memory_format=how.memory_format)

        def run(layer: nn.Module = layer, inputs: torch.Tensor = inputs, how: runtime.Precision = how) -> None:
            with torch.inference_mode(), how.autocast():
                layer(inputs)

        seconds, _ = interleaved(run, run, repeats)
        result[name] = work / seconds / 1e9
    return result


def row(name: str, course: float, baseline: float, work: float, ceiling: float, how: str) -> dict[str, object]:
    return {
        "what": name,
        "course_s": course,
        "textbook_s": baseline,
        "speedup": baseline / course,
        "course_gflops": work / course / 1e9,
        "fraction_of_ceiling": work / course / 1e9 / ceiling,
        "course_precision": how,
    }


def paper_forward(quick: bool, repeats: int, ceiling: dict[str, float]) -> dict[str, object]:
    size, base = (188, 8) if quick else (572, 64)
    torch.manual_seed(0)
    course = UNetModel(base_channels=base).eval()
    how = runtime.choose_precision("auto", "cpu", training=False, model=course, input_shape=(1, 1, size, size))
    course = course.to(memory_format=how.memory_format)
    textbook = TextbookUNet(base).eval()
    x = torch.randn(1, 1, size, size)
    xc = x.contiguous(memory_format=how.memory_format)

    def a() -> None:
        with torch.inference_mode(), how.autocast():
            course(xc)

    def b() -> None:
        with torch.no_grad():
            textbook(x)

    ta, tb = interleaved(a, b, repeats)
    return row(f"paper forward {size}²", ta, tb, flops(b), _ceiling_for(how, ceiling), how.describe())


def training_step(quick: bool, repeats: int, ceiling: dict[str, float]) -> dict[str, object]:
    tile, base = (188, 4) if quick else (380, 16)
    how = runtime.choose_precision("auto", "cpu", training=True)
    torch.manual_seed(0)
    course = UNetModel(base_channels=base, batch_norm=True).to(memory_format=how.memory_format)
    textbook = TextbookUNet(base, batch_norm=True)
    out = tile - 184
    x = torch.randn(2, 1, tile, tile)
    y, w = (torch.rand(2, out, out) > 0.3).long(), torch.rand(2, out, out) + 0.5
    opt_a, opt_b = torch.optim.Adam(course.parameters(), 1e-3), torch.optim.Adam(textbook.parameters(), 1e-3)
    scaler = how.grad_scaler()
    xc = x.contiguous(memory_format=how.memory_format)

    def a() -> None:
        train.train_step(course, opt_a, weighted_cross_entropy, xc, y, w, how, scaler)

    def b() -> None:
        opt_b.zero_grad()
        loss = (F.cross_entropy(textbook(x), y, reduction="none") * w).mean()
        loss.backward()
        opt_b.step()

    ta, tb = interleaved(a, b, repeats)
    return row(f"CPU-recipe training step 2 × {tile}²", ta, tb, flops(b), _ceiling_for(how, ceiling), how.describe())


def shipped_model() -> tuple[nn.Module, nn.Module]:
    """The shipped checkpoint twice: for the course (as loaded) and for the textbook loop (its own copy)."""
    return checkpoints.load_model(checkpoints.SHIPPED_CHECKPOINT, "cpu"), checkpoints.load_model(
        checkpoints.SHIPPED_CHECKPOINT, "cpu"
    )


def slice_prediction(quick: bool, repeats: int, ceiling: dict[str, float]) -> dict[str, object]:
    size = 200 if quick else 512
    image = np.random.default_rng(0).random((size, size)).astype(np.float32)
    course, textbook = shipped_model()
    how = tiling.inference_precision(course, (size, size))
    ta, tb = interleaved(
        lambda: tiling.predict_probability(course, image, precision=how),
        lambda: textbook_probability(textbook, image),
        repeats,
    )
    work = flops(lambda: tiling.predict_probability(course, image, precision="fp32"))
    return row(f"whole {size}² slice, shipped model", ta, tb, work, _ceiling_for(how, ceiling), how.describe())


def predict_command(quick: bool) -> dict[str, object] | None:
    """``python -m unet_lib predict`` on the ISBI test slices against a textbook read–predict–write loop."""
    try:
        test = load_isbi2012("test", download=False)
    except DataUnavailable:
        return None
    count = 2 if quick else len(test)
    folder = Path(tempfile.mkdtemp())
    (folder / "in").mkdir()
    for k in range(count):
        Image.fromarray((test.images[k] * 255).astype(np.uint8)).save(folder / "in" / f"{k:02d}.png")
    _, textbook = shipped_model()
    runs = iter(range(1000))

    def course() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["predict", str(folder / "in"), "--out", str(folder / f"course{next(runs)}")])

    def baseline() -> None:
        out = folder / f"textbook{next(runs)}"
        out.mkdir()
        for path in sorted((folder / "in").iterdir()):
            image = np.asarray(Image.open(path), np.float32) / 255
            probability = textbook_probability(textbook, image)
            gray = (image * 255).astype(np.uint8)
            Image.fromarray((probability * 255).astype(np.uint8)).save(out / f"{path.stem}_probability.png")
            Image.fromarray((probability > 0.5).astype(np.uint8) * 255).save(out / f"{path.stem}_mask.png")
            Image.fromarray(np.stack([gray] * 3, axis=-1)).save(out / f"{path.stem}_overlay.png")

    ta, tb = interleaved(course, baseline, 1 if quick else 2)
    return {"what": f"predict command, {count} ISBI test slices", "course_s": ta, "textbook_s": tb, "speedup": tb / ta}


def layouts(quick: bool, repeats: int) -> list[dict[str, object]]:
    """Per workload, the same model at the same shape in NCHW and in channels_last (the number format ``auto``
    picks for it), and the layout ``runtime.layout_on_the_work`` then chooses: the evidence for issue 21's rule."""
    tile, base = (188, 4) if quick else (700, 16)
    train_tile = 188 if quick else 380
    works = [
        (f"inference, shipped configuration, {tile}²", False, (1, 1, tile, tile)),
        (f"training step, CPU recipe, 2 × {train_tile}²", True, (2, 1, train_tile, train_tile)),
    ]
    rows = []
    for name, training, shape in works:
        torch.manual_seed(0)
        model = UNetModel(base_channels=base, batch_norm=True)
        number = runtime.choose_precision("auto", "cpu", training=training)
        nchw, cl = replace(number, channels_last=False), replace(number, channels_last=True)
        run_nchw, run_cl = (runtime.work_probe(how, model, shape, training) for how in (nchw, cl))
        t_nchw, t_cl = interleaved(run_nchw, run_cl, repeats)
        chosen = runtime.choose_precision("auto", "cpu", training=training, model=model, input_shape=shape)
        rows.append(
            {
                "what": f"layout: {name}",
                "nchw_s": t_nchw,
                "channels_last_s": t_cl,
                "channels_last_speedup": t_nchw / t_cl,
                "chosen": chosen.describe(),
            }
        )
    return rows


def _ceiling_for(how: runtime.Precision, ceiling: dict[str, float]) -> float:
    key = f"{how.name} {'channels_last' if how.channels_last else 'NCHW'}"
    return ceiling.get(key, ceiling["fp32 NCHW"])


CODE_PATH_CAPS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
"""Settings that make PyTorch and oneDNN use older instructions than the processor has: a stand-in for an older
CPU (e.g. ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` on an AVX-512 machine), never the real thing —
the caches, clocks and memory stay the faster machine's. A result made so says it."""


def code_path_caps() -> dict[str, str]:
    """The ``CODE_PATH_CAPS`` set in this process's environment (empty: the processor's own code paths)."""
    return {name: os.environ[name] for name in CODE_PATH_CAPS if os.environ.get(name)}


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: only checks that it runs")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each side (default 5)")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    ceiling = conv_ceiling(args.quick, repeats)
    rows = [
        paper_forward(args.quick, repeats, ceiling),
        training_step(args.quick, repeats, ceiling),
        slice_prediction(args.quick, repeats, ceiling),
    ]
    layout_rows = layouts(args.quick, repeats)
    command = predict_command(args.quick)
    if command is not None:
        rows.append(command)
    result = {
        "processor": runtime.processor_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "code_path_caps": code_path_caps(),
        "convolution_gflops": ceiling,
        "rows": rows,
        "layouts": layout_rows,
    }
    print(f"{result['processor']} ({result['cpu_capability']}), torch {result['torch']}, {result['threads']} threads")
    if result["code_path_caps"]:
        caps = " ".join(f"{k}={v}" for k, v in result["code_path_caps"].items())
        print(f"code paths capped by {caps}: a stand-in for an older processor, not one")
    print("3×3 convolution ceiling: " + ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in ceiling.items()))
    print(f"{'':42}{'course':>10}{'textbook':>10}{'speed-up':>10}{'of ceiling':>12}  course precision")
    for r in rows:
        share = f"{r['fraction_of_ceiling']:.0%}" if "fraction_of_ceiling" in r else ""
        print(
            f"{r['what']:42}{r['course_s']:>9.3f}s{r['textbook_s']:>9.3f}s{r['speedup']:>9.2f}×{share:>12}  "
            f"{r.get('course_precision', '')}"
        )
    for r in layout_rows:
        print(
            f"{r['what']:58} NCHW {r['nchw_s']:.3f}s, channels_last {r['channels_last_s']:.3f}s "
            f"({r['channels_last_speedup']:.2f}×) → {r['chosen']}"
        )
    if args.json:
        runtime.write_atomic(args.json, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))
    return result


if __name__ == "__main__":
    main()
