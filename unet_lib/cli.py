"""The course's main command: train a U-Net, predict with it, evaluate it (notebooks 08–09).

    python -m unet_lib train                    # ISBI 2012 (or the built-in data), default budget
    python -m unet_lib train --data synthetic --steps 50 --out runs/quick
    python -m unet_lib predict --checkpoint runs/train/model.ckpt my_image.png --out runs/predicted
    python -m unet_lib evaluate --checkpoint runs/train/model.ckpt            # ISBI validation slices 25–29
    python -m unet_lib evaluate --checkpoint runs/train/model.ckpt --data my_folder

``unet`` (installed with the package) is the same command. ``DIR`` for ``--data`` is a
folder with ``images/`` and ``masks/`` (see ``unet_lib.data.load_folder``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from skimage.segmentation import find_boundaries

from . import distributed, runtime, train, viz
from .checkpoints import SHIPPED_CHECKPOINT, CheckpointError, load_checkpoint, load_model, save_checkpoint
from .data import TileDataset, load_dataset, train_val_split
from .evaluation import calibrate, evaluate_images, format_table, predict_all, stored_thresholds
from .images import IMAGE_SUFFIXES, SegmentationData, image_files, read_image
from .losses import weight_maps
from .metrics import cell_segments
from .model import UNetModel, count_parameters, describe_input_size

DEFAULT_MINUTES = 8.0
"""Default training budget: with data loading and the final evaluation, ``train`` ends within 10 minutes on 2 CPU
cores."""


class UsageError(Exception):
    """A problem the user can fix (a path, a file); printed as one line, without a traceback."""


# -- small helpers ------------------------------------------------------------------------
def _silent(*_args: Any, **_kwargs: Any) -> None:
    """``print`` for the ranks that are not rank 0: they keep quiet."""


def write_json(path: Path, data: dict[str, Any]) -> None:
    runtime.write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def save_png(path: Path, array: np.ndarray) -> None:
    """Save a uint8 gray (H, W) or RGB (H, W, 3) array as PNG."""
    runtime.write_atomic(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def save_figure(path: Path, figure: Any) -> None:
    runtime.write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=80))


def _load_data(name: str, verbose: bool = True) -> SegmentationData:
    try:
        return load_dataset(name, verbose=verbose)
    except (FileNotFoundError, ValueError) as error:  # no such folder, no pairs, unreadable or mismatched files
        raise UsageError(str(error)) from error


def split_data(dataset: SegmentationData) -> tuple[SegmentationData, SegmentationData]:
    """Training and validation parts (``unet_lib.data.train_val_split``: ISBI slices 0–24 / 25–29).

    A folder with a single image trains and validates on that image (and says so).
    """
    if len(dataset) < 2:
        print("only one image: it is used for training and for validation, so the scores are optimistic")
        return dataset, dataset
    return train_val_split(dataset)


# -- train ----------------------------------------------------------------------------------
def recipe_from(args: argparse.Namespace):
    """The CPU default (or, with ``--paper``, the paper's setting), changed by the options given."""
    if args.resume:
        notes = load_checkpoint(args.resume).get("recipe")
        if not isinstance(notes, dict):
            raise UsageError(f"{args.resume} has no training recipe: resume from a last.ckpt written by `train`")
        return train.Recipe(**notes)
    recipe = train.PAPER if args.paper else train.CPU_DEFAULT
    options = {
        "base_channels": args.base_channels,
        "depth": args.depth,
        "tile_size": args.tile_size,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "lr": args.lr,
    }
    changes = {key: value for key, value in options.items() if value is not None}
    if args.optimizer is not None and args.lr is None:
        changes["lr"] = train.OPTIMIZER_DEFAULTS[args.optimizer]["lr"]
    if args.no_batch_norm:
        changes["batch_norm"] = False
    if args.augment is not None:
        changes["augment"] = args.augment
    for name in ("padding", "up_mode", "weight_map", "elastic"):  # the variants of notebook 10
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    return replace(recipe, **changes)


def variants(recipe: train.Recipe) -> str:
    """The notebook-10 variants a recipe uses, for the first line ``train`` prints (nothing for the paper's)."""
    words = [f"{recipe.padding} padding"] if recipe.padding != "valid" else []
    words += [f"{recipe.up_mode} up-sampling"] if recipe.up_mode != "transpose" else []
    words += ["no weight map"] if not recipe.weight_map else []
    return "".join(f", {word}" for word in words)


def command_train(args: argparse.Namespace) -> int:
    """Train on a dataset, then write the checkpoints, the metrics JSON and a figure of validation predictions."""
    started = time.perf_counter()
    world = distributed.world_from_env()  # one process, or one of several started by torchrun
    say = print if world.is_main else _silent
    out = Path(args.out)
    recipe = recipe_from(args)
    dataset = _load_data(args.data, verbose=world.is_main)
    if dataset.labels is None:
        raise UsageError(f"{args.data} has no labels to train on")
    train_part, val_part = split_data(dataset)
    runtime.seed_everything(args.seed)
    model = UNetModel(
        base_channels=recipe.base_channels,
        depth=recipe.depth,
        batch_norm=recipe.batch_norm,
        padding=recipe.padding,
        up_mode=recipe.up_mode,
    )
    if not model.is_valid_input_size(recipe.tile_size):
        raise UsageError(f"--tile-size {describe_input_size(recipe.tile_size, recipe.depth, recipe.padding)}")
    out_size = model.output_size(recipe.tile_size)
    minutes = args.minutes if args.minutes is not None else (None if args.steps is not None else DEFAULT_MINUTES)
    tiles = (args.steps or 100_000) * recipe.batch_size * world.size  # every step draws batch × ranks tiles
    train_tiles = TileDataset(
        train_part,
        recipe.tile_size,
        out_size,
        num_tiles=tiles,
        augment=recipe.augment,
        weight_maps=weight_maps(train_part.labels) if recipe.weight_map else None,
        seed=args.seed,
        elastic=recipe.elastic,
    )
    val_tiles = TileDataset(
        val_part,
        recipe.tile_size,
        out_size,
        num_tiles=args.val_tiles,
        augment=False,
        weight_maps=weight_maps(val_part.labels) if recipe.weight_map else None,
        seed=args.seed + 1,
    )
    budget = " or ".join(
        ([f"{minutes:g} minutes"] if minutes is not None else []) + ([f"{args.steps} steps"] if args.steps else [])
    )
    say(
        f"model: U-Net depth {recipe.depth}, {recipe.base_channels} base channels, batch norm {recipe.batch_norm}, "
        f"{count_parameters(model):,} parameters | tiles {recipe.tile_size}→{out_size} px, batch {recipe.batch_size}, "
        f"{recipe.optimizer} lr {recipe.lr:g}{' annealed' if recipe.anneal else ''}, "
        f"augmentation {recipe.augment}{'' if recipe.elastic or not recipe.augment else ' (no elastic)'}"
        f"{variants(recipe)} | budget {budget}"
    )
    history = train.fit(
        model,
        train_tiles,
        val_tiles,
        steps=args.steps,
        minutes=minutes,
        batch_size=recipe.batch_size,
        optimizer=recipe.optimizer,
        lr=recipe.lr,
        seed=args.seed,
        checkpoint=out / "last.ckpt",
        checkpoint_every=args.checkpoint_every,
        val_every=args.val_every,
        resume=args.resume,
        live_plot=False,
        anneal=recipe.anneal,
        precision=args.precision,
        notes={"recipe": asdict(recipe)},
    )
    if not world.is_main:  # the other ranks' work is done: rank 0 evaluates and writes
        return 0
    steps = history.step[-1] if history.step else 0
    processes = f" on {history.world_size} processes" if history.world_size > 1 else ""
    print(f"trained {steps} steps in {history.seconds / 60:.1f} min{processes} (stopped by {history.stopped})")
    print(f"training computed in {history.precision}")
    inference = runtime.choose_precision(args.precision, runtime.pick_device(), training=False)
    print(f"prediction computes in {inference.describe()}")
    thresholds = calibrate(model, train_part, args.threshold, args.segmentation_threshold, inference)
    print(
        f"thresholds chosen on training images: pixel {thresholds['threshold']:g}, "
        f"segmentation {thresholds['segmentation_threshold']:g}"
    )
    probabilities = predict_all(model, val_part.images, inference)
    metrics = evaluate_images(probabilities, val_part.labels, val_part.names, thresholds)
    print(format_table(metrics))
    record = {
        "command": "python -m unet_lib " + " ".join(shlex.quote(a) for a in args.argv),
        "data": dataset.description,
        "validation_images": list(val_part.names),
        "seed": args.seed,
        "steps": steps,
        "stopped_by": history.stopped,
        "training_seconds": round(history.seconds, 1),
        "recipe": asdict(recipe),
        "model_config": model.config,
        "device": str(runtime.pick_device()),
        "world_size": history.world_size,
        "training_precision": history.precision,
        "prediction_precision": inference.describe(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "validation": metrics,
    }
    save_checkpoint(
        out / "model.ckpt",
        model,
        None,
        steps,
        history,
        **thresholds,
        recipe=asdict(recipe),
        record=json.loads(json.dumps(record)),
    )
    save_figure(
        out / "validation.png",
        viz.prediction_figure(
            val_part.images, probabilities, val_part.labels, list(val_part.names), thresholds["threshold"]
        ),
    )
    record["total_seconds"] = round(time.perf_counter() - started, 1)
    write_json(out / "metrics.json", record)
    print(
        f"wrote {out / 'model.ckpt'} (for predict/evaluate), {out / 'last.ckpt'} (to --resume), "
        f"{out / 'metrics.json'}, {out / 'validation.png'}; total {record['total_seconds'] / 60:.1f} min"
    )
    return 0


# -- predict ---------------------------------------------------------------------------------
def _input_files(inputs: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = image_files(item)
            if not found:
                raise UsageError(f"{item} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        else:
            files.append(item)
    return files


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image in gray with the outlines of the predicted cells/objects drawn in orange (Okabe–Ito)."""
    gray = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    rgb[find_boundaries(cell_segments(mask), mode="inner")] = (230, 159, 0)
    return rgb


def _read_input(path: Path) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"no image at {path}")
    try:
        return read_image(path)
    except ValueError as error:
        raise UsageError(f"{error}; give a PNG, TIFF, JPEG or BMP file") from error


def command_predict(args: argparse.Namespace) -> int:
    """Probability map, mask and overlay PNGs for each input image."""
    model = load_model(args.checkpoint)
    threshold = stored_thresholds(load_checkpoint(args.checkpoint), args.threshold)["threshold"]
    out = Path(args.out)
    files = _input_files(args.inputs)
    images = [_read_input(path) for path in files]  # read all first: a bad file fails before any work
    how = runtime.choose_precision(args.precision, next(model.parameters()).device, training=False)
    print(f"predicting {len(images)} image(s) in {how.describe()}")
    for path, image in zip(files, images):
        probability = predict_all(model, [image], how)[0]
        mask = probability > threshold
        save_png(out / f"{path.stem}_probability.png", (probability * 255).round().astype(np.uint8))
        save_png(out / f"{path.stem}_mask.png", mask.astype(np.uint8) * 255)
        save_png(out / f"{path.stem}_overlay.png", overlay(image, mask))
        print(f"{path} ({image.shape[0]}×{image.shape[1]}): {mask.mean():.1%} foreground → {out}/{path.stem}_*.png")
    return 0


# -- evaluate --------------------------------------------------------------------------------
def command_evaluate(args: argparse.Namespace) -> int:
    """Measure a checkpoint on labelled images: a table on the terminal and a metrics JSON."""
    model = load_model(args.checkpoint)
    dataset = _load_data(args.data)
    if dataset.labels is None:
        raise UsageError(f"{args.data} has no labels to evaluate against")
    which = "all"
    if dataset.source != "folder" and args.slices == "val":
        dataset, which = split_data(dataset)[1], "the validation"
    print(f"evaluating {args.checkpoint} on {which} {len(dataset)} images of: {dataset.description}")
    thresholds = stored_thresholds(load_checkpoint(args.checkpoint), args.threshold, args.segmentation_threshold)
    how = runtime.choose_precision(args.precision, next(model.parameters()).device, training=False)
    print(f"predicting in {how.describe()}")
    metrics = evaluate_images(predict_all(model, dataset.images, how), dataset.labels, dataset.names, thresholds)
    print(format_table(metrics))
    path = Path(args.out) / "metrics.json"
    record = {"checkpoint": str(args.checkpoint), "data": dataset.description, "precision": how.as_dict(), **metrics}
    write_json(path, record)
    print(f"wrote {path}")
    return 0


# -- the command line ------------------------------------------------------------------------
def _precision_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--precision",
        choices=runtime.PRECISIONS,
        default="auto",
        help="auto (default: bf16/fp16 where this machine computes it faster, measured), or force fp32, bf16, fp16",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m unet_lib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a U-Net and write a checkpoint, metrics JSON and figure")
    t.add_argument(
        "--data",
        default="isbi2012",
        help="isbi2012 (default; built-in data if unavailable), synthetic, or a folder DIR",
    )
    budget = t.add_argument_group(f"budget (default: {DEFAULT_MINUTES:g} minutes)")
    budget.add_argument("--minutes", type=float, help="wall-time budget for training")
    budget.add_argument("--steps", type=int, help="number of training steps (alone: no time limit)")
    recipe = t.add_argument_group("recipe (default: the CPU recipe of notebook 08)")
    recipe.add_argument(
        "--paper",
        action="store_true",
        help="the paper's setting: 64 base channels, no batch norm, 572 tiles, batch 1, SGD",
    )
    recipe.add_argument("--base-channels", type=int, help="channels of the first level (default 16; paper 64)")
    recipe.add_argument("--depth", type=int, help="number of poolings (default 4, as the paper)")
    recipe.add_argument("--no-batch-norm", action="store_true", help="the paper's U-Net has none")
    recipe.add_argument("--tile-size", type=int, help="training input tile (default 380; paper 572)")
    recipe.add_argument("--batch-size", type=int, help="tiles per step (default 2; paper 1)")
    recipe.add_argument("--optimizer", choices=["adam", "sgd"], help="adam (default) or sgd with momentum 0.99 (paper)")
    recipe.add_argument("--lr", type=float, help="learning rate (default: 1e-3 for adam, 0.01 for sgd)")
    recipe.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="the paper's augmentation (default: off; on with --paper)",
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
    t.add_argument("--out", default="runs/train", help="output folder (default runs/train)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", help="continue from a last.ckpt written by an earlier train (same recipe)")
    t.add_argument(
        "--threshold", type=float, help="pixel threshold on the cell probability (default: chosen on training images)"
    )
    t.add_argument(
        "--segmentation-threshold",
        type=float,
        help="threshold whose cell pieces seed the Rand-error segmentation (default: chosen)",
    )
    t.add_argument("--val-every", type=int, default=100, help="steps between validation losses")
    t.add_argument("--val-tiles", type=int, default=4, help="fixed validation tiles for the loss curve")
    t.add_argument("--checkpoint-every", type=int, default=100)
    _precision_option(t)
    t.set_defaults(handler=command_train)

    p = sub.add_parser("predict", help="predict probability maps, masks and overlays for images")
    p.add_argument("inputs", nargs="+", help="image files or folders of images")
    p.add_argument(
        "--checkpoint", default=str(SHIPPED_CHECKPOINT), help="model.ckpt from train (default: the shipped one)"
    )
    p.add_argument("--out", default="runs/predict", help="output folder (default runs/predict)")
    p.add_argument("--threshold", type=float, help="pixel threshold (default: the one stored with the model)")
    _precision_option(p)
    p.set_defaults(handler=command_predict)

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
        help="isbi2012/synthetic: validation slices 25–29 (default) or all 30",
    )
    e.add_argument("--out", default="runs/evaluate", help="folder for metrics.json (default runs/evaluate)")
    e.add_argument("--threshold", type=float, help="pixel threshold (default: the one stored with the model)")
    e.add_argument(
        "--segmentation-threshold", type=float, help="segmentation threshold for the Rand error (default: stored)"
    )
    _precision_option(e)
    e.set_defaults(handler=command_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m unet_lib`` and the ``unet`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return args.handler(args)
    except (UsageError, CheckpointError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except distributed.PeerLost as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
