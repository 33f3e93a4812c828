"""The course's main command: train a U-Net, predict with it, evaluate it (notebooks 08–09).

    python -m unet_lib train                    # ISBI 2012 (or the built-in data), default budget
    python -m unet_lib train --data synthetic --steps 50 --out runs/quick
    python -m unet_lib predict --checkpoint runs/train/model.ckpt my_image.png --out runs/predicted
    python -m unet_lib predict --isbi2012-test  # the challenge's submission file, isbi2012_test_probability.tif
    python -m unet_lib evaluate --checkpoint runs/train/model.ckpt            # ISBI validation slices 25–29
    python -m unet_lib evaluate --checkpoint runs/train/model.ckpt --data my_folder
    python -m unet_lib doctor --data my_folder --overfit   # why does it not work? one line per finding
    python -m unet_lib doctor --class                      # the pre-class check of a machine
    python -m unet_lib export --checkpoint runs/train/model.ckpt --out my_unet.zip   # for Fiji, napari, ilastik

``unet`` (installed with the package) is the same command. ``DIR`` for ``--data`` is a
folder with ``images/`` and ``masks/`` (see ``unet_lib.images.load_folder``).

This module is the front door: the options and their ranges (``build_parser``), the checks that need
more than one option (``train_plan``: the recipe, ``--resume``), and ``main``, which answers every
mistake a user can make with one line on stderr and exit status 2, and treats SIGTERM and SIGHUP like
Ctrl-C. The commands themselves are in ``unet_lib.commands`` (train, evaluate), ``unet_lib.prediction`` and
``unet_lib.export``.
"""

from __future__ import annotations

import argparse
import codecs
import difflib
import math
import os
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import MISSING, asdict, fields, replace
from pathlib import Path
from typing import Any, NoReturn

from . import diagnose, distributed, runtime, train
from .checkpoints import MAX_SEED, SHIPPED_CHECKPOINT, CheckpointError, load_checkpoint
from .commands import TrainPlan, command_evaluate, command_train
from .data import BUILT_IN_DATA, no_such_data
from .evaluation import DEFAULT_THRESHOLD, TRAIN_ROTATIONS
from .export import command_export
from .isbi2012 import DataUnavailable
from .model import check_config, count_config_parameters, describe_input_size, feature_map_elements, unet_output_size
from .outputs import StopSignals, UsageError
from .prediction import command_predict
from .runtime import OutputError
from .tiling import ROTATIONS

USAGE = """Train a U-Net, predict with it, and measure it — the commands of the course's notebooks 08, 09 and 11.

examples:
    python -m unet_lib train                    # ISBI 2012 (or the built-in data), default budget
    python -m unet_lib train --data synthetic --steps 50 --out runs/quick
    python -m unet_lib train --data my_folder --steps 200 --out runs/mine
    python -m unet_lib predict --checkpoint runs/train/model.ckpt my_image.png --out runs/predicted
    python -m unet_lib predict --isbi2012-test  # the challenge's submission file
    python -m unet_lib evaluate --checkpoint runs/train/model.ckpt            # ISBI validation slices 25–29
    python -m unet_lib evaluate --checkpoint runs/train/model.ckpt --data my_folder

A folder for --data holds images/ and masks/, one mask per image with the same name (notebook 11).
`unet` is the same command. Each command lists its options: python -m unet_lib train --help.
"""
"""What ``python -m unet_lib --help`` prints: for the user (the module docstring above is for maintainers)."""

DEFAULT_MINUTES = 5.0
"""Default training budget: with data loading and the final evaluation, ``train`` ends within 6½ minutes on 2 CPU
cores."""

THRESHOLD_HELP = (
    "pixel threshold (default: the one stored with the model; "
    f"{DEFAULT_THRESHOLD:g} for a last.ckpt, which stores none)"
)
"""``predict``'s and ``evaluate``'s ``--threshold``: ``train`` calibrates one into ``model.ckpt`` only."""

DEFAULT_OUT = {"train": "runs/train", "predict": "runs/predict", "evaluate": "runs/evaluate", "export": "runs/unet.zip"}
"""Where each command writes unless ``--out`` says otherwise (a taken default moves on to ``runs/train-2`` …)."""


# -- option types: a wrong value is refused by argparse, in one line ----------------------------------
class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line saying what is wrong and where the options are listed; exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (`{self.prog} --help` lists the options)\n")


def did_you_mean(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """``"; did you mean --steps?"`` for a mistyped option (``--stpes``), one question for several (``"; did you
    mean --steps and --data?"``), ``""`` when no option is close."""
    options = [option for action in parser._actions for option in action.option_strings]
    typed = [word.split("=")[0] for word in extra if word.startswith("--")]
    if "--data" in typed and parser.prog.endswith(" predict"):  # predict's inputs are its arguments
        return "; predict takes the images themselves: give their folder, e.g. my_folder/images, or the files"
    close = [match for word in typed for match in difflib.get_close_matches(word, options, n=1, cutoff=0.7)]
    return f"; did you mean {' and '.join(close)}?" if close else ""


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An ``int`` option that must be at least ``minimum`` (and at most ``maximum``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value

    return parse


def positive_number(text: str) -> float:
    """A ``float`` option that must be a real number above 0 (not NaN, not infinite)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def probability(text: str) -> float:
    """A threshold on a probability: strictly between 0 and 1 (at 0 or 1 every pixel would get the same class)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def momentum(text: str) -> float:
    """Batch norm's momentum: above 0 (at 0 the running statistics would never move) and at most 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number above 0 and at most 1, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1, got {text}")
    return value


# -- the options -------------------------------------------------------------------------------------
def build_parser() -> Parser:
    """Every command's options with their ranges, so that argparse refuses a wrong value in one line before any
    work (notebooks 08–12 run these commands)."""
    parser = Parser(prog="python -m unet_lib", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for add_command in (
        add_train_command,
        add_predict_command,
        add_evaluate_command,
        add_doctor_command,
        add_export_command,
    ):
        add_command(sub)
    return parser


def add_train_command(sub: argparse._SubParsersAction) -> None:
    """``train``: data, budget, recipe, output, thresholds, validation (notebook 08)."""
    at_least_1 = whole_number(1)
    t = sub.add_parser("train", help="train a U-Net and write a checkpoint, metrics JSON and figure")
    t.add_argument("--data", help="isbi2012 (default; built-in data if unavailable), synthetic, or a folder DIR")
    budget = t.add_argument_group(f"budget (default: {DEFAULT_MINUTES:g} minutes)")
    budget.add_argument("--minutes", type=positive_number, help="wall-time budget for training")
    budget.add_argument("--steps", type=at_least_1, help="number of training steps (alone: no time limit)")
    add_recipe_options(t)
    add_out_options(t, "train")
    t.add_argument(
        "--seed", type=whole_number(0, MAX_SEED), help="seed of the run (default 0; --resume keeps the stored one)"
    )
    t.add_argument("--resume", help="continue from a last.ckpt written by an earlier train (same recipe and data)")
    t.add_argument(
        "--threshold", type=probability, help="pixel threshold on the cell probability (default: chosen on training)"
    )
    t.add_argument(
        "--segmentation-threshold",
        type=probability,
        help="threshold whose cell pieces seed the Rand-error segmentation (default: chosen)",
    )
    add_rotations_option(t, f"views averaged per validation image (default {TRAIN_ROTATIONS}, as the paper; 1: faster)")
    t.add_argument("--val-every", type=at_least_1, default=100, help="steps between validation losses")
    t.add_argument("--val-tiles", type=at_least_1, default=4, help="fixed validation tiles for the loss curve")
    t.add_argument("--checkpoint-every", type=at_least_1, default=100, help="steps between saves of last.ckpt")
    add_precision_option(t)
    add_threads_option(t)
    t.set_defaults(handler=run_train, parser=t)


def add_recipe_options(t: argparse.ArgumentParser) -> None:
    """``train``'s recipe (the CPU default of notebook 08 or ``--paper``) and the variants of notebook 10."""
    at_least_1 = whole_number(1)
    recipe = t.add_argument_group("recipe (default: the CPU recipe of notebook 08; --resume keeps the stored one)")
    recipe.add_argument(
        "--paper",
        action="store_true",
        help="the paper's setting: 64 base channels, no batch norm, 572 tiles, batch 1, SGD",
    )
    recipe.add_argument("--base-channels", type=at_least_1, help="channels of the first level (default 16; paper 64)")
    recipe.add_argument("--depth", type=whole_number(0), help="number of poolings (default 4, as the paper)")
    recipe.add_argument("--no-batch-norm", action="store_true", help="the paper's U-Net has none")
    recipe.add_argument("--tile-size", type=at_least_1, help="training input tile (default 380; paper 572)")
    recipe.add_argument("--batch-size", type=at_least_1, help="tiles per step (default 2; paper 1)")
    recipe.add_argument("--optimizer", choices=["adam", "sgd"], help="adam (default) or sgd with momentum 0.99 (paper)")
    recipe.add_argument("--lr", type=positive_number, help="learning rate (default: 1e-3 for adam, 0.01 for sgd)")
    recipe.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="the paper's augmentation (default: off; on with --paper)",
    )
    recipe.add_argument(
        "--warmup-steps", type=whole_number(0), help="steps of linearly rising learning rate first (default 0: none)"
    )
    recipe.add_argument(
        "--bn-momentum", type=momentum, help="how fast batch norm's running statistics follow training (default 0.1)"
    )
    variant = t.add_argument_group("variants (notebook 10; default: the paper's choices)")
    variant.add_argument("--padding", choices=["valid", "same"], help="valid (default, the paper) or same convolutions")
    variant.add_argument(
        "--up-mode",
        choices=["transpose", "bilinear", "nearest"],
        help="transpose (default: the paper's learned up-convolution), or bilinear/nearest up-sampling + 1×1 conv",
    )
    variant.add_argument(
        "--no-weight-map",
        dest="weight_map",
        action="store_const",
        const=False,
        help="plain cross-entropy instead of the paper's weight map",
    )
    variant.add_argument(
        "--elastic",
        action=argparse.BooleanOptionalAction,
        help="with --augment: include the elastic deformation (default) or not",
    )


def add_predict_command(sub: argparse._SubParsersAction) -> None:
    """``predict``: images, folders, stacks or the ISBI test set (notebooks 09, 11)."""
    p = sub.add_parser("predict", help="predict probability maps, masks and overlays for images")
    p.add_argument("inputs", nargs="*", help="image files (a multi-page TIFF is a stack) or folders of images")
    p.add_argument(
        "--isbi2012-test",
        action="store_true",
        help="the 30 ISBI 2012 test slices; writes the challenge's submission file isbi2012_test_probability.tif "
        "(32-bit float stack, 0 = membrane, 1 = non-membrane)",
    )
    p.add_argument(
        "--checkpoint", default=str(SHIPPED_CHECKPOINT), help="model.ckpt from train (default: the shipped one)"
    )
    add_out_options(p, "predict")
    p.add_argument("--threshold", type=probability, help=THRESHOLD_HELP)
    add_rotations_option(p, "views averaged per image (default 1; 4 as the paper's ISBI entry, 4× the time)")
    add_precision_option(p)
    add_threads_option(p)
    p.set_defaults(handler=run_predict, parser=p)


def add_evaluate_command(sub: argparse._SubParsersAction) -> None:
    """``evaluate``: a checkpoint measured on labelled images (notebook 09)."""
    e = sub.add_parser("evaluate", help="measure a checkpoint on labelled images")
    e.add_argument(
        "--checkpoint", default=str(SHIPPED_CHECKPOINT), help="model.ckpt from train (default: the shipped one)"
    )
    e.add_argument(
        "--data", default="isbi2012", help="isbi2012 (default), synthetic, or a folder DIR with images/ and masks/"
    )
    e.add_argument(
        "--slices",
        choices=["val", "all"],
        default="val",
        help="val (default): isbi2012/synthetic's validation slices 25–29, or of an own folder the images the "
        "checkpoint did not train on (known by their pixels); all: every image",
    )
    add_out_options(e, "evaluate")
    e.add_argument("--threshold", type=probability, help=THRESHOLD_HELP)
    e.add_argument(
        "--segmentation-threshold",
        type=probability,
        help="segmentation threshold for the Rand error (default: the one stored with the model; the pixel threshold "
        "for a last.ckpt, which stores none)",
    )
    add_rotations_option(e, "views averaged per image (default: as the model's thresholds were chosen, stored)")
    add_precision_option(e)
    add_threads_option(e)
    e.set_defaults(handler=run_evaluate, parser=e)


def add_doctor_command(sub: argparse._SubParsersAction) -> None:
    """``doctor``: why a setup does not work, or the pre-class check (notebook 12)."""
    d = sub.add_parser("doctor", help="diagnose a training setup: data, pipeline, overfit test, a checkpoint")
    d.add_argument("--data", help="isbi2012 (default; built-in data if unavailable), synthetic, or a folder DIR")
    d.add_argument("--overfit", action="store_true", help="train on one tile for up to a minute: can it learn at all?")
    d.add_argument(
        "--overfit-seconds",
        type=positive_number,
        default=diagnose.OVERFIT_SECONDS,
        help=f"time budget of --overfit (default {diagnose.OVERFIT_SECONDS:g}; it stops at the bar)",
    )
    d.add_argument("--checkpoint", help="a model.ckpt to check on the data (one class everywhere, baseline, …)")
    d.add_argument(
        "--class",
        dest="class_check",
        action="store_true",
        help="the pre-class check of this machine: environment, widgets, threads, the data, one timed step, memory",
    )
    add_precision_option(d)
    add_threads_option(d)
    d.set_defaults(handler=run_doctor, parser=d)


def add_export_command(sub: argparse._SubParsersAction) -> None:
    """``export``: a bioimage.io model package (notebook 11)."""
    x = sub.add_parser("export", help="write a bioimage.io model package for Fiji/deepImageJ, napari, ilastik")
    x.add_argument(
        "--checkpoint", default=str(SHIPPED_CHECKPOINT), help="model.ckpt from train (default: the shipped one)"
    )
    x.add_argument("--out", help=f"the package, a .zip (default {DEFAULT_OUT['export']}; if taken, unet-2.zip, …)")
    x.add_argument("--overwrite", action="store_true", help="replace the file --out names")
    x.add_argument(
        "--image",
        help="an image like the training images, for the test tensors and the cover "
        "(default: the first ISBI 2012 training slice, or the built-in one)",
    )
    add_threads_option(x)
    x.set_defaults(handler=run_export, parser=x)


def add_out_options(parser: argparse.ArgumentParser, command: str) -> None:
    """``--out`` and ``--overwrite``: the same words for every command that writes, since nothing is replaced without
    consent (``outputs.claim_folder``)."""
    default = DEFAULT_OUT[command]
    parser.add_argument("--out", help=f"output folder (default {default}; if taken, {default}-2, …)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of an earlier run in --out")


def add_rotations_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--rotations``: predict each image in 1, 4 or 8 views (rotated, mirrored) and average (``tiling``)."""
    parser.add_argument("--rotations", type=int, choices=ROTATIONS, help=help)


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """``--precision``: ``auto`` measures (``runtime.choose_precision``); forcing one serves comparisons."""
    parser.add_argument(
        "--precision",
        choices=runtime.PRECISIONS,
        default="auto",
        help="auto (default: bf16/fp16 where this machine computes it faster, measured), or force fp32, bf16, fp16",
    )


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: at most N CPU threads; by default as many as the CPUs granted (``runtime.decide_threads``)."""
    parser.add_argument(
        "--threads",
        type=whole_number(1),
        help="CPU threads (default: the CPUs granted to this process — cgroup quota, affinity, $UNET_THREADS or "
        "$OMP_NUM_THREADS — and under torchrun its share); the run prints what it uses and why",
    )


def out_folder(args: argparse.Namespace) -> tuple[Path, bool]:
    """``(folder, given)``: ``--out`` as given, or the command's default."""
    return Path(args.out or DEFAULT_OUT[args.command]), args.out is not None


# -- train: the recipe, --resume, and what the machine can hold --------------------------------------
RECIPE_FLAGS = {
    "base_channels": "--base-channels",
    "depth": "--depth",
    "tile_size": "--tile-size",
    "batch_size": "--batch-size",
    "optimizer": "--optimizer",
    "lr": "--lr",
    "padding": "--padding",
    "up_mode": "--up-mode",
    "warmup_steps": "--warmup-steps",
    "bn_momentum": "--bn-momentum",
}
"""The recipe's fields that one option each sets."""


def requested_recipe(args: argparse.Namespace) -> dict[str, tuple[str, Any]]:
    """``{field: (option, value)}`` for every recipe field the command line sets (``--paper`` sets them all)."""
    asked: dict[str, tuple[str, Any]] = {}
    if args.paper:
        asked = {key: ("--paper", value) for key, value in asdict(train.PAPER).items()}
    for key, flag in RECIPE_FLAGS.items():
        if getattr(args, key) is not None:
            asked[key] = (flag, getattr(args, key))
    if args.no_batch_norm:
        asked["batch_norm"] = ("--no-batch-norm", False)
    if args.augment is not None:
        asked["augment"] = ("--augment" if args.augment else "--no-augment", args.augment)
    if args.weight_map is not None:
        asked["weight_map"] = ("--no-weight-map", False)
    if args.elastic is not None:
        asked["elastic"] = ("--elastic" if args.elastic else "--no-elastic", args.elastic)
    return asked


def new_recipe(args: argparse.Namespace) -> train.Recipe:
    """The CPU default (or, with ``--paper``, the paper's setting), changed by the options given."""
    recipe = train.PAPER if args.paper else train.CPU_DEFAULT
    changes = {key: value for key, (_, value) in requested_recipe(args).items()}
    if args.optimizer is not None and args.lr is None:
        changes["lr"] = train.OPTIMIZER_DEFAULTS[args.optimizer]["lr"]
    recipe = replace(recipe, **changes)
    check_bn_momentum(args, recipe)
    return recipe


def check_bn_momentum(args: argparse.Namespace, recipe: train.Recipe, resume: Path | None = None) -> None:
    """``--bn-momentum`` needs batch norm: refused for a new recipe, or a resumed run, that has none."""
    if args.bn_momentum is not None and not recipe.batch_norm:
        whose = "this recipe" if resume is None else f"the run in {resume}"
        raise UsageError(f"--bn-momentum sets batch norm's momentum, and {whose} has none: leave it out")


def stored_recipe(path: Path, state: dict[str, Any]) -> train.Recipe:
    """The recipe a ``last.ckpt`` was trained with, checked field by field."""
    notes = state.get("recipe")
    if not isinstance(notes, dict):
        raise UsageError(f"{path} has no training recipe: resume from a last.ckpt written by `train`")
    expected = {f.name: f.type for f in fields(train.Recipe)}
    required = {f.name for f in fields(train.Recipe) if f.default is MISSING}  # later fields have defaults
    kinds = {"int": int, "bool": bool, "str": str, "float": (int, float)}
    wrong = sorted((set(notes) - set(expected)) | (required - set(notes)))
    wrong += [
        key
        for key in sorted(set(notes) & set(expected))
        if not isinstance(notes[key], kinds[expected[key]])
        or (expected[key] in ("int", "float") and isinstance(notes[key], bool))
    ]
    if not wrong:
        numbers = ("batch_size", "tile_size", "lr")
        wrong = [key for key in numbers if not (math.isfinite(notes[key]) and notes[key] > 0)]
        wrong += [] if notes["optimizer"] in train.OPTIMIZER_DEFAULTS else ["optimizer"]
        wrong += [] if notes.get("padding", "valid") in ("valid", "same") else ["padding"]
        wrong += [] if notes.get("up_mode", "transpose") in ("transpose", "bilinear", "nearest") else ["up_mode"]
        wrong += [] if notes.get("warmup_steps", 0) >= 0 else ["warmup_steps"]
        wrong += [] if 0 < notes.get("bn_momentum", 0.1) <= 1 else ["bn_momentum"]
    if wrong:
        raise CheckpointError(f"{path} has a malformed training recipe (check {', '.join(wrong)}); train again")
    return train.Recipe(**notes)


def resume_conflicts(args: argparse.Namespace, recipe: train.Recipe) -> list[str]:
    """Options that disagree with the checkpoint's recipe, one entry per option: ``"--depth 3 (the checkpoint has
    depth 2)"``, ``"--paper (base_channels 64 where the checkpoint has 16, …)"``."""
    stored = asdict(recipe)
    differing: dict[str, list[tuple[str, Any]]] = {}
    for key, (flag, value) in requested_recipe(args).items():
        same = math.isclose(value, stored[key], rel_tol=1e-9) if key in ("lr", "bn_momentum") else value == stored[key]
        if not same:
            differing.setdefault(flag, []).append((key, value))
    clashes = []
    for flag, items in differing.items():
        if flag == "--paper":
            details = ", ".join(f"{key} {value} where the checkpoint has {stored[key]}" for key, value in items)
            clashes.append(f"--paper ({details})")
        else:
            (key, value), shown = items[0], flag if isinstance(items[0][1], bool) else f"{flag} {items[0][1]}"
            clashes.append(f"{shown} (the checkpoint has {key} {stored[key]})")
    return clashes


def training_memory_bytes(recipe: train.Recipe) -> int:
    """An upper estimate of the memory one training step of ``recipe`` needs, in bytes, from its configuration.

    Every feature map kept three times (the value, what the backward pass keeps, the gradient; twice that
    with batch norm) for each tile of a batch, plus weights, gradients and two optimiser moments. For the
    paper's network and one 572² tile it says 2.2 GB; FACTS.md measured a 1.45 GB peak for that step.
    """
    maps = feature_map_elements(
        recipe.tile_size, base_channels=recipe.base_channels, depth=recipe.depth, padding=recipe.padding
    )
    weights = count_config_parameters(
        base_channels=recipe.base_channels, depth=recipe.depth, batch_norm=recipe.batch_norm, up_mode=recipe.up_mode
    )
    return 4 * (3 * maps * (2 if recipe.batch_norm else 1) * recipe.batch_size + 4 * weights)


def check_memory(recipe: train.Recipe, resume: Path | None = None) -> None:
    """Refuse a recipe whose training step cannot fit into this machine's memory, before anything is allocated
    (one the options chose, or the one stored in the ``resume`` checkpoint)."""
    try:
        needed, memory = training_memory_bytes(recipe), os_memory_bytes()
    except (ValueError, OSError, AttributeError):  # a size that does not fit is refused elsewhere; Windows
        return
    if needed > memory and resume is not None:
        raise UsageError(
            f"the training recipe stored in {resume} needs about {needed / 1e9:.1f} GB per step (batch "
            f"{recipe.batch_size} of {recipe.tile_size}² tiles, {recipe.base_channels} base channels), more than "
            f"this machine's {memory / 1e9:.1f} GB: resume on a larger machine, or start a new run without --resume"
        )
    if needed > memory:
        raise UsageError(
            f"one training step needs about {needed / 1e9:.1f} GB (batch {recipe.batch_size} of "
            f"{recipe.tile_size}² tiles, {recipe.base_channels} base channels), more than this machine's "
            f"{memory / 1e9:.1f} GB: lower --batch-size, --tile-size or --base-channels"
        )


def os_memory_bytes() -> int:
    """This machine's physical memory (``AttributeError`` or ``OSError`` where the system does not say: Windows)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def train_plan(args: argparse.Namespace, signals: StopSignals) -> TrainPlan:
    """Every ``train`` option checked against the others, against a resumed checkpoint and against the machine."""
    out, given = out_folder(args)
    data, seed, start = args.data, args.seed, 0
    resume = Path(args.resume) if args.resume else None
    if resume is not None:
        recipe, start, data, seed = resumed_run(args, resume)
        if not given:
            out, given = resume.parent, True
    else:
        recipe = new_recipe(args)
    check_trainable(recipe, resume)
    check_memory(recipe, resume)
    minutes = args.minutes if args.minutes is not None else (None if args.steps is not None else DEFAULT_MINUTES)
    return TrainPlan(
        recipe=recipe,
        data=same_data(data or "isbi2012"),
        out=out,
        steps=args.steps,
        minutes=minutes,
        seed=0 if seed is None else seed,
        resume=resume,
        start_step=start,
        threshold=args.threshold,
        segmentation_threshold=args.segmentation_threshold,
        rotations=TRAIN_ROTATIONS if args.rotations is None else args.rotations,
        val_every=args.val_every,
        val_tiles=args.val_tiles,
        checkpoint_every=args.checkpoint_every,
        out_given=given,
        overwrite=args.overwrite,
        command="python -m unet_lib " + " ".join(shlex.quote(a) for a in args.argv),
        signals=signals,
        precision=args.precision,
        threads=args.threads,
    )


def resumed_run(args: argparse.Namespace, resume: Path) -> tuple[train.Recipe, int, str | None, int | None]:
    """``(recipe, step, data, seed)`` of the run a ``--resume`` checkpoint continues: its own, with the options that
    agree with it; an option that disagrees is refused rather than silently ignored while the JSON records it."""
    state = load_checkpoint(resume)
    if state["optimizer_state"] is None:
        raise UsageError(f"{resume} holds no optimiser state (a finished model): resume from the last.ckpt beside it")
    recipe, start = stored_recipe(resume, state), int(state["step"])
    check_bn_momentum(args, recipe, resume)  # before the clashes, which would suggest a momentum to give
    clashes = resume_conflicts(args, recipe) + run_conflicts(args, state)
    if clashes:
        raise UsageError(
            f"--resume continues the run stored in {resume}, but these options disagree with it: "
            f"{'; '.join(clashes)}. Leave them out, or start a new run without --resume"
        )
    if args.steps is not None and args.steps < start:
        raise UsageError(
            f"--steps {args.steps} is below the {start} steps {resume} has done (steps count from the start "
            f"of training): give --steps {start} or more"
        )
    stored_data, stored_seed = state.get("data"), state.get("seed")
    return recipe, start, args.data or stored_data, stored_seed if args.seed is None else args.seed


def run_conflicts(args: argparse.Namespace, state: dict[str, Any]) -> list[str]:
    """``--data`` and ``--seed`` that differ from the checkpoint's, one entry each, as ``resume_conflicts`` words
    them: another dataset or another seed would not continue the same run."""
    data, seed = args.data, args.seed
    stored_data, stored_seed = state.get("data"), state.get("seed")
    clashes = []
    if data is not None and stored_data is not None and same_data(data) != stored_data:
        clashes.append(f"--data {data} (the checkpoint trained on {stored_data})")
    if seed is not None and stored_seed is not None and seed != stored_seed:
        clashes.append(f"--seed {seed} (the checkpoint has seed {stored_seed})")
    return clashes


def check_trainable(recipe: train.Recipe, resume: Path | None = None) -> None:
    """``check_recipe`` with the blame where it belongs: on the options of a new run, on the file of a resumed one
    (options that differ from its stored recipe were refused before, so a recipe no U-Net fits was changed there)."""
    try:
        check_recipe(recipe, "--tile-size" if resume is None else "tile_size")
    except UsageError as error:
        if resume is not None:
            raise CheckpointError(
                f"the training recipe stored in {resume} cannot be trained ({error}): the file was changed or "
                "damaged; resume from another last.ckpt, or start a new run without --resume"
            ) from error
        raise


def check_recipe(recipe: train.Recipe, tile_size: str = "--tile-size") -> None:
    """``UsageError`` for a recipe no U-Net can be built with (``check_memory`` then asks about this machine)."""
    try:
        check_config(
            base_channels=recipe.base_channels,
            depth=recipe.depth,
            batch_norm=recipe.batch_norm,
            padding=recipe.padding,
            up_mode=recipe.up_mode,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    if unet_output_size(recipe.tile_size, recipe.depth, recipe.padding) is None:
        raise UsageError(f"{tile_size} {describe_input_size(recipe.tile_size, recipe.depth, recipe.padding)}")


def same_data(name: str) -> str:
    """``--data`` as it is stored with a run: a folder by its absolute path (a resume may start elsewhere)."""
    return str(Path(name).expanduser().resolve()) if name not in BUILT_IN_DATA else name


# -- the handlers and main -----------------------------------------------------------------------------
def run_train(args: argparse.Namespace, signals: StopSignals) -> int:
    """``train``: the options checked into a ``TrainPlan`` first (``train_plan``), then ``commands.command_train``."""
    return command_train(train_plan(args, signals))


def run_predict(args: argparse.Namespace, signals: StopSignals) -> int:
    """``predict``: its options handed to ``prediction.command_predict`` (notebooks 09, 11)."""
    out, given = out_folder(args)
    return command_predict(
        args.inputs,
        args.checkpoint,
        out,
        given,
        args.overwrite,
        args.threshold,
        args.isbi2012_test,
        args.precision,
        args.rotations or 1,
        threads=args.threads,
    )


def run_evaluate(args: argparse.Namespace, signals: StopSignals) -> int:
    """``evaluate``: its options handed to ``commands.command_evaluate`` (notebook 09)."""
    out, given = out_folder(args)
    return command_evaluate(
        args.checkpoint,
        args.data,
        args.slices,
        out,
        given,
        args.overwrite,
        args.threshold,
        args.segmentation_threshold,
        args.precision,
        args.rotations,
        threads=args.threads,
    )


def run_doctor(args: argparse.Namespace, signals: StopSignals) -> int:
    """``doctor``: one line per finding; exit status 0 when nothing is a problem, 2 otherwise."""
    if args.class_check:
        if args.data is not None or args.overfit or args.checkpoint is not None:
            raise UsageError(
                "doctor --class checks this machine and the course's own data: run it without --data, --overfit, "
                "--checkpoint"
            )
        findings = diagnose.class_check(args.precision, threads=args.threads)
    else:
        if args.data not in (None, *BUILT_IN_DATA) and not Path(args.data).expanduser().is_dir():
            raise UsageError(no_such_data(args.data))
        if args.checkpoint is not None:
            load_checkpoint(args.checkpoint)  # a missing or damaged file: one line, before any work
        findings = diagnose.doctor(
            args.data or "isbi2012",
            args.overfit,
            args.checkpoint,
            args.precision,
            overfit_seconds=args.overfit_seconds,
            threads=args.threads,
        )
    print(diagnose.summary(findings))
    return diagnose.exit_status(findings)


def run_export(args: argparse.Namespace, signals: StopSignals) -> int:
    """``export``: its options handed to ``export.command_export`` (notebook 11)."""
    out, given = out_folder(args)
    return command_export(args.checkpoint, out, given, args.overwrite, args.image, args.threads)


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """While a command runs, Ctrl-C, SIGTERM and SIGHUP all become ``StopSignals``' orderly stop."""
    signals = StopSignals()
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield signals
        return
    previous = {number: signal.signal(number, signals.handle) for number in StopSignals.NAMES}
    try:
        yield signals
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def out_of_memory(error: BaseException) -> bool:
    """Python's ``MemoryError``, torch's ``OutOfMemoryError`` (a ``RuntimeError``), or the CPU allocator's refusal."""
    text = str(error)
    return isinstance(error, MemoryError) or "out of memory" in text or "can't allocate memory" in text


USER_ERRORS = (UsageError, CheckpointError, DataUnavailable, OutputError, FileNotFoundError)
"""Mistakes (or states of the machine) a user can fix: one line on stderr, exit status 2."""


ASCII_FALLBACK = {"×": "x", "→": "->", "²": "^2", "–": "-", "—": "-", "…": "...", "≥": ">=", "≤": "<=", "·": "."}
"""What the commands' few non-ASCII characters become on a terminal or log that cannot show them."""


def ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    """The ``errors=`` handler of ``plain_streams``: ``×`` → ``x``, ``→`` → ``->``, anything else → ``?``."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(ASCII_FALLBACK.get(character, "?") for character in text), error.end


codecs.register_error("unet_lib.ascii", ascii_fallback)


def plain_streams() -> None:
    """Where stdout or stderr cannot encode ``×`` and ``→`` (``PYTHONIOENCODING=ascii``, some Windows consoles and CI
    logs), write them as ``x`` and ``->`` instead of dying with a ``UnicodeEncodeError`` halfway through a command."""
    for stream in (sys.stdout, sys.stderr):
        try:
            "×→".encode(getattr(stream, "encoding", None) or "utf-8")
        except (UnicodeEncodeError, LookupError):
            with suppress(AttributeError, ValueError):  # a stream that cannot be reconfigured stays as it is
                stream.reconfigure(errors="unet_lib.ascii")


def say_error(message: str) -> None:
    """The one line of a refused command, on stderr, on a line of its own (after a progress bar's last frame)."""
    print("error: " + " ".join(str(message).split()), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m unet_lib`` and the ``unet`` command; returns the exit status.

    Warnings (Pillow's, tifffile's, torch's) are held back while the command runs: a refused command prints only
    its one line; one that ends otherwise shows them at its end.
    """
    plain_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # refused by the command's own parser, so the line names `… doctor --help`, not the top one
            args.parser.error(f"unrecognized arguments: {' '.join(extra)}{did_you_mean(args.parser, extra)}")
    except SystemExit as stop:  # --help, or a refused option (already explained in one line)
        return int(stop.code or 0)
    args.argv = argv
    refused, caught = False, []
    try:
        with stop_signals() as signals, warnings.catch_warnings(record=True) as caught:
            try:
                return args.handler(args, signals)
            except USER_ERRORS as error:
                refused = True
                say_error(str(error))
                return 2
            except distributed.PeerLost as error:  # another process of a torchrun job died (notebook 10); a
                refused = True  # RuntimeError, so before the next clause
                say_error(str(error))
                return 2
            except (MemoryError, RuntimeError) as error:
                if not out_of_memory(error):
                    raise
                refused = True
                say_error("out of memory: use a smaller --tile-size, --batch-size or --base-channels, or fewer images")
                return 2
            except KeyboardInterrupt:
                print(f"stopped by {signals.name}: every file written so far is complete", file=sys.stderr)
                return signals.exit_status
    finally:
        for warning in [] if refused else caught:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
