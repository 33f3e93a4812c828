"""Two commands of ``python -m unet_lib``, train and evaluate (notebooks 08–09); predict is ``unet_lib.prediction``.

``unet_lib.cli`` parses and checks the options and hands over a checked plan; the commands do
the work, and keep three promises (``unet_lib.outputs`` holds the pieces):

* nothing is replaced without consent: a run folder that holds an earlier run is refused (or, for the
  default folder, a fresh numbered one is used, and the command says so); prediction names never collide;
* every file is written whole or not at all (``runtime.write_atomic``); the output folder is checked
  (writable, room on the disk) before any work;
* a stop — Ctrl-C, SIGTERM, SIGHUP — ends with a checkpoint, a metrics JSON and the command that resumes.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import diagnose, distributed, runtime, tiling, train, verdicts, viz
from .checkpoints import CheckpointError, load_checkpoint, load_model, model_origin, save_checkpoint
from .data import BUILT_IN_DATA, TileDataset, load_dataset, train_val_split
from .evaluation import (
    PIXEL_DEFAULT_SOURCE,
    TRAIN_ROTATIONS,
    calibrate,
    class_words,
    evaluate_images,
    format_table,
    predict_all,
    stored_rotations,
    stored_thresholds,
    threshold_source,
    views_note,
)
from .images import SegmentationData, fingerprint, pixel_size_note
from .isbi2012 import DataUnavailable
from .losses import weight_maps
from .model import UNetModel, count_config_parameters, count_parameters
from .outputs import (
    FolderLock,
    StopSignals,
    UsageError,
    claim_folder,
    finite_or_null,
    occupied,
    save_figure,
    write_json,
)


# -- train -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainPlan:
    """A checked ``train`` command line: what to train, on what, for how long, and where the outputs go."""

    recipe: train.Recipe
    data: str
    out: Path
    steps: int | None
    minutes: float | None
    seed: int
    resume: Path | None = None
    start_step: int = 0
    threshold: float | None = None
    segmentation_threshold: float | None = None
    rotations: int = TRAIN_ROTATIONS
    val_every: int = 100
    val_tiles: int = 4
    checkpoint_every: int = 100
    out_given: bool = False
    overwrite: bool = False
    command: str = "python -m unet_lib train"
    precision: str = "auto"
    threads: int | None = None
    signals: StopSignals = field(default_factory=StopSignals)

    def model_config(self) -> dict[str, Any]:
        return self.recipe.model_config()

    def model(self) -> UNetModel:
        return self.recipe.model()

    def output_bytes(self) -> int:
        """About what the run writes: two copies of ``last.ckpt`` (weights and optimiser state, the old one kept
        until the new one is whole), ``model.ckpt``, the figure and the JSON."""
        config = self.model_config()
        config.pop("padding")  # padding changes no weight
        weights = 4 * count_config_parameters(**config)
        return 2 * 3 * weights + weights + 2_000_000

    def resume_command(self, out: Path, steps: int | None, minutes: float | None) -> str:
        words = ["python -m unet_lib train", "--resume", str(out / "last.ckpt"), "--out", str(out)]
        words += ["--steps", str(steps)] if steps is not None else []
        words += ["--minutes", f"{minutes:.1f}"] if minutes is not None else []
        words += ["--threshold", f"{self.threshold:g}"] if self.threshold is not None else []
        if self.segmentation_threshold is not None:
            words += ["--segmentation-threshold", f"{self.segmentation_threshold:g}"]
        words += ["--rotations", str(self.rotations)] if self.rotations != TRAIN_ROTATIONS else []
        words += ["--threads", str(self.threads)] if self.threads is not None else []
        return " ".join(shlex.quote(w) if i else w for i, w in enumerate(words))


def run_folder(plan: TrainPlan) -> AbstractContextManager[FolderLock]:
    """``with run_folder(plan) as lock:`` the checked, locked output folder of a training run (``lock.folder``;
    ``lock.created``: this run creates it) — ``outputs.claim_folder``: no other command writes into it meanwhile.

    Continuing a run in its own folder (``--resume R/last.ckpt``) is consent to replace its files.
    """
    continuing = plan.resume is not None and plan.resume.resolve().parent == plan.out.resolve()
    return claim_folder(plan.out, plan.out_given, plan.overwrite or continuing, occupied, plan.output_bytes())


def training_data(plan: TrainPlan, verbose: bool = True) -> tuple[SegmentationData, SegmentationData, SegmentationData]:
    """``(all, training part, validation part)``; refuses data a U-Net cannot learn from."""
    try:
        dataset = load_dataset(plan.data, verbose=verbose)
    except (FileNotFoundError, ValueError) as error:  # no such folder, no pairs, unreadable or mismatched files
        raise UsageError(str(error)) from error
    if dataset.labels is None:
        raise UsageError(f"{plan.data} has no labels to train on")
    train_part, val_part = split_data(dataset, verbose)
    if not any(label.any() for label in train_part.labels):
        raise UsageError(
            "every training mask is empty (no pixel marks an object): nothing to learn; "
            "objects must be nonzero in the masks (e.g. 255 on 0)"
        )
    if all(label.all() for label in train_part.labels):
        raise UsageError("every training mask marks every pixel as object: nothing to learn; background must be 0")
    return dataset, train_part, val_part


def split_data(dataset: SegmentationData, verbose: bool = True) -> tuple[SegmentationData, SegmentationData]:
    """Training and validation parts (``unet_lib.data.train_val_split``: ISBI slices 0–24 / 25–29).

    A folder with a single image trains and validates on that image (and says so).
    """
    if len(dataset) < 2:
        if verbose:
            print("only one image: it is used for training and for validation, so the scores are optimistic")
        return dataset, dataset
    return train_val_split(dataset)


def fit_arguments(plan: TrainPlan, out: Path, train_part: SegmentationData) -> dict[str, Any]:
    """The one place that turns a plan into ``train.fit``'s options (``notes`` travel into ``last.ckpt``: with
    ``training_images``, ``evaluate`` on a ``last.ckpt`` knows the images it trained on, as on a ``model.ckpt``)."""
    recipe = plan.recipe
    return dict(
        steps=plan.steps,
        minutes=plan.minutes,
        batch_size=recipe.batch_size,
        optimizer=recipe.optimizer,
        lr=recipe.lr,
        seed=plan.seed,
        checkpoint=out / "last.ckpt",
        checkpoint_every=plan.checkpoint_every,
        val_every=plan.val_every,
        resume=plan.resume,
        live_plot=False,
        anneal=recipe.anneal,
        warmup_steps=recipe.warmup_steps,
        bn_momentum=recipe.bn_momentum if recipe.batch_norm else None,
        precision=plan.precision,
        notes={"recipe": asdict(recipe), "data": plan.data, "training_images": training_prints(train_part)},
    )


def seen_copies(train_part: SegmentationData, val_part: SegmentationData) -> str:
    """The sentence for train's note under its validation table when held-out images repeat a training image's
    pixels ("" if none): such a copy scores what the model has already seen (doctor's "duplicate images")."""
    if train_part is val_part:  # a one-image folder: its own line says so
        return ""
    prints = set(training_prints(train_part))
    copies = [name for name, image in zip(val_part.names, val_part.images) if fingerprint(image) in prints]
    if not copies:
        return ""
    if len(copies) == 1:
        return f"{copies[0]} has the pixels of a training image, so its scores flatter the model"
    return f"{runtime.name_list(copies)} have the pixels of training images, so their scores flatter the model"


def training_prints(train_part: SegmentationData) -> list[str]:
    """The fingerprints (``images.fingerprint``) of the training images, stored in ``last.ckpt`` and ``model.ckpt``
    so that ``evaluate`` (``trained_on``) knows them again in any folder, under any name."""
    return [fingerprint(image) for image in train_part.images]


def command_train(plan: TrainPlan) -> int:
    """Train on a dataset, then write the checkpoints, the metrics JSON and a figure of validation predictions."""
    started = time.time()
    world = distributed.world_from_env()  # one process, or one of several started by torchrun (notebook 10)
    if not world.is_main:  # only rank 0 writes, so only rank 0 chooses, checks and locks the folder
        distributed.leave(train_into(plan, plan.out, False, started, world))
    with run_folder(plan) as lock:
        return train_into(plan, lock.folder, lock.created, started, world, lock.announce)


def train_into(
    plan: TrainPlan,
    out: Path,
    created: bool,
    started: float,
    world: distributed.World,
    announce: Callable[[], None] = lambda: None,
) -> int:
    """``command_train`` once the folder is claimed: load, train, evaluate, write; a stop says what was saved.
    ``announce`` says which folder it writes into once the data is read (``outputs.FolderLock.announce``)."""
    threads = runtime.use_granted_threads(plan.threads)  # the CPUs granted: a hub's quota, a rank's share
    stage, model = "loading the data", None
    try:
        dataset, train_part, val_part = training_data(plan, verbose=world.is_main)
        announce()
        if world.is_main:
            print_data_findings(plan, dataset)
        runtime.seed_everything(plan.seed)
        model = plan.model()
        out_size = model.output_size(plan.recipe.tile_size)
        tiles, val_tiles = train_val_tiles(plan, train_part, val_part, out_size, world.size)
        if world.is_main:
            print_run_plan(plan, model, out_size, threads, dataset)
        stage = "training"
        arguments = fit_arguments(plan, out, train_part)
        history = train.fit(model, tiles, val_tiles, **arguments)  # a signal: stop after a step
        if history.stopped == "diverged":  # every rank sees it at the same step (the gradients are shared)
            raise UsageError(divergence_message(plan, out, history, started))
        if not world.is_main:  # the other ranks' work is done: rank 0 evaluates and writes
            return 0
        if history.stopped == "interrupted":
            plan.signals.received = plan.signals.received or history.stop_signal or None
            return stopped_early(plan, out, stage, started, created, model)
        stage = "choosing thresholds and evaluating"
        write_training_outputs(plan, out, model, history, dataset, train_part, val_part, started)
        return 0
    except KeyboardInterrupt:
        return stopped_early(plan, out, stage, started, created, model)


def print_data_findings(plan: TrainPlan, dataset: SegmentationData) -> None:
    """The doctor's cheap data checks before training (notebook 12): a line for each warning or problem, none when
    all is well, so that a run on inverted or 0/255 masks says so before it spends its minutes."""
    recipe = plan.recipe
    findings = diagnose.check_data(dataset, recipe.tile_size, recipe.depth, recipe.padding)
    if plan.data not in BUILT_IN_DATA:  # an own folder: how its mask files are read, too
        findings = diagnose.merge(diagnose.check_mask_files(plan.data), findings)
    for finding in diagnose.not_ok(findings + diagnose.check_recorded_pixel_sizes(plan.data)):
        print(finding.line())


def train_val_tiles(
    plan: TrainPlan, train_part: SegmentationData, val_part: SegmentationData, out_size: int, ranks: int = 1
) -> tuple[TileDataset, TileDataset]:
    """The training tiles (augmented as the recipe says, enough for every step of every rank: batch × ranks per
    step) and the fixed validation tiles (never augmented, their own seed), each with the paper's weight map."""
    recipe = plan.recipe
    tiles = TileDataset(
        train_part,
        recipe.tile_size,
        out_size,
        num_tiles=(plan.steps or 100_000) * recipe.batch_size * ranks,
        augment=recipe.augment,
        weight_maps=weight_maps(train_part.labels) if recipe.weight_map else None,
        seed=plan.seed,
        elastic=recipe.elastic,
    )
    val_tiles = TileDataset(
        val_part,
        recipe.tile_size,
        out_size,
        num_tiles=plan.val_tiles,
        augment=False,
        weight_maps=weight_maps(val_part.labels) if recipe.weight_map else None,
        seed=plan.seed + 1,
    )
    return tiles, val_tiles


def print_run_plan(
    plan: TrainPlan, model: UNetModel, out_size: int, threads: runtime.ThreadDecision, dataset: SegmentationData
) -> None:
    """What ``train`` prints before its first step (notebook 08): the recipe as run, the threads it uses, and what
    its budget of steps or minutes will buy (``diagnose.budget_lines``, with the stored default runs to compare)."""
    print(describe_run(plan, model, out_size))
    print(f"using {threads.describe()}")
    default_run = plan.recipe == train.CPU_DEFAULT and dataset.source == "isbi2012" and plan.resume is None
    for line in diagnose.budget_lines(plan.recipe, plan.steps, plan.minutes, default_run, plan.precision):
        print(line)


def describe_run(plan: TrainPlan, model: UNetModel, out_size: int) -> str:
    """The one ``model: …`` line ``train`` prints before its first step: the recipe as run, so that a log says
    what was trained without the command line (notebook 08)."""
    recipe = plan.recipe
    budget = " or ".join(
        ([runtime.plural(plan.minutes, "minute")] if plan.minutes is not None else [])
        + ([runtime.plural(plan.steps, "step")] if plan.steps else [])
    )
    resumed = f" | resuming at step {plan.start_step}" if plan.resume is not None else ""
    return (
        f"model: U-Net depth {recipe.depth}, {recipe.base_channels} base channels, "
        f"{'with' if recipe.batch_norm else 'no'} batch norm, "
        f"{count_parameters(model):,} parameters | tiles {recipe.tile_size}→{out_size} px, batch {recipe.batch_size}, "
        f"{recipe.optimizer} lr {recipe.lr:g}{' annealed' if recipe.anneal else ''}, "
        f"{'augmentation' if recipe.augment else 'no augmentation'}"
        f"{'' if recipe.elastic or not recipe.augment else ' (no elastic)'}"
        f"{variants(recipe)} | budget {budget}{resumed}"
    )


def variants(recipe: train.Recipe) -> str:
    """The notebook-10 variants and schedule settings a recipe changes, for the first line ``train`` prints
    (nothing for the paper's or the CPU default)."""
    words = [f"{recipe.padding} padding"] if recipe.padding != "valid" else []
    words += [f"{recipe.up_mode} up-sampling"] if recipe.up_mode != "transpose" else []
    words += ["no weight map"] if not recipe.weight_map else []
    words += [f"warm-up {runtime.plural(recipe.warmup_steps, 'step')}"] if recipe.warmup_steps else []
    default_momentum = recipe.bn_momentum == train.CPU_DEFAULT.bn_momentum
    words += [f"batch-norm momentum {recipe.bn_momentum:g}"] if recipe.batch_norm and not default_momentum else []
    return "".join(f", {word}" for word in words)


def divergence_message(plan: TrainPlan, out: Path, history: train.History, started: float) -> str:
    """One line for a run that ``fit`` stopped because a loss or gradient stopped being a number: where, what was
    kept, and what to try (only the remedies this run did not already use)."""
    last, step = out / "last.ckpt", saved_step(out / "last.ckpt", since=started)
    kept = f"{last} holds step {step}, the last finite one" if step is not None else "no checkpoint was written"
    if step is None and plan.resume is not None:
        kept = f"{plan.resume} still holds step {plan.start_step}"
    tries = [f"a lower --lr (this run: {plan.recipe.lr:g})"]
    tries += ["batch norm (leave out --no-batch-norm)"] if not plan.recipe.batch_norm else []
    tries += ["--precision fp32"] if not history.precision.startswith("fp32") else []
    return (
        f"training diverged at step {history.diverged_at} ({history.divergence}), so it stopped there and wrote "
        f"no model.ckpt; {kept}. Try {', '.join(tries[:-1]) + ' or ' + tries[-1] if len(tries) > 1 else tries[0]}"
    )


def write_training_outputs(
    plan: TrainPlan,
    out: Path,
    model: UNetModel,
    history: train.History,
    dataset: SegmentationData,
    train_part: SegmentationData,
    val_part: SegmentationData,
    started: float,
) -> None:
    """The one place that measures the trained model and writes ``model.ckpt``, ``validation.png``, ``metrics.json``."""
    steps = history.step[-1] if history.step else plan.start_step
    processes = f" on {history.world_size} processes" if history.world_size > 1 else ""
    trained = f"trained {runtime.plural(steps, 'step')} in {history.seconds / 60:.1f} min{processes}"
    print(f"{trained} (stopped by {history.stopped})")
    print(f"training computed in {history.precision}")
    inference = tiling.inference_precision(model, val_part.images[0].shape[-2:], plan.precision)
    print(f"prediction computes in {inference.describe()}")
    print(views_note(plan.rotations))
    thresholds = calibrate(model, train_part, plan.threshold, plan.segmentation_threshold, inference, plan.rotations)
    print(
        f"thresholds chosen on training images: pixel {thresholds['threshold']:g}, "
        f"segmentation {thresholds['segmentation_threshold']:g}"
    )
    probabilities = predict_all(model, val_part.images, inference, plan.rotations)
    metrics = evaluate_images(probabilities, val_part.labels, val_part.names, thresholds)
    words = class_words(dataset.source)
    print(format_table(metrics, classes=words))
    if copies := seen_copies(train_part, val_part):
        print(f"note: {copies}; remove the copies (doctor's 'duplicate images')")
    baseline = constant_baseline(val_part.labels, words[0])
    print(baseline_note(metrics, val_part.labels, baseline))
    record = run_record(plan, dataset, val_part, model, history, steps)
    record |= {"prediction_precision": inference.describe(), "rotations": plan.rotations}
    record |= {"validation": metrics, "baseline": baseline}
    save_checkpoint(
        out / "model.ckpt",
        model,
        None,
        steps,
        history,
        **thresholds,
        rotations=plan.rotations,
        recipe=asdict(plan.recipe),
        data_profile=diagnose.data_profile(train_part, diagnose.pixel_size_of(plan.data)),
        record=finite_or_null(json.loads(json.dumps(record))),
        training_images=training_prints(train_part),  # for evaluate's note, not metrics
    )
    figure = viz.prediction_figure(
        val_part.images, probabilities, val_part.labels, list(val_part.names), thresholds["threshold"]
    )
    save_figure(out / "validation.png", figure)
    record["total_seconds"] = round(time.time() - started, 1)
    write_json(out / "metrics.json", record)
    print(
        f"wrote {out / 'model.ckpt'} (for predict/evaluate), {out / 'last.ckpt'} (to --resume), "
        f"{out / 'metrics.json'}, {out / 'validation.png'}; total {record['total_seconds'] / 60:.1f} min"
    )


def run_record(
    plan: TrainPlan,
    dataset: SegmentationData | None,
    val_part: SegmentationData | None,
    model: UNetModel | None,
    history: train.History | None,
    steps: int,
) -> dict[str, Any]:
    """What the metrics JSON says about a run, finished or not."""
    return {
        "command": plan.command,
        "data": dataset.description if dataset is not None else plan.data,
        "validation_images": list(val_part.names) if val_part is not None else None,
        "seed": plan.seed,
        "steps": steps,
        "stopped_by": history.stopped if history is not None else "interrupted",
        "training_seconds": round(history.seconds, 1) if history is not None else None,
        "recipe": asdict(plan.recipe),
        "model_config": model.config if model is not None else None,
        "device": str(runtime.pick_device()),
        "processor": runtime.processor(),
        "world_size": history.world_size if history is not None else distributed.world_from_env().size,
        "training_precision": history.precision if history is not None else None,
        "torch_threads": torch.get_num_threads(),
        "threads": runtime.decide_threads(plan.threads).describe(),
        "torch": torch.__version__,
    }


def stopped_early(
    plan: TrainPlan, out: Path, stage: str, started: float, created: bool, model: UNetModel | None
) -> int:
    """After a stop: say what was saved and how to go on; record it in ``metrics.json`` when a checkpoint exists."""
    last = out / "last.ckpt"
    step = saved_step(last, since=started)
    cause = plan.signals.name
    if step is None:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # this run created it; leave no empty folder behind
        again = f"; {plan.resume} still holds step {plan.start_step}" if plan.resume is not None else ""
        print(f"stopped by {cause} while {stage}: nothing was saved, and no earlier file was changed{again}")
        return plan.signals.exit_status
    if stage.startswith("choosing"):  # the training is complete: only the evaluation is missing
        command = plan.resume_command(out, step, None)
        advice = f"training had finished; to choose thresholds, evaluate and write model.ckpt run: {command}"
    else:
        used = (time.time() - started) / 60
        left = None if plan.minutes is None else max(0.1, plan.minutes - used)
        command = plan.resume_command(out, plan.steps, left)
        advice = f"resume with: {command}"
    record = run_record(plan, None, None, model, None, step)
    record |= {"stopped_by": "interrupted", "interrupted": f"{cause} while {stage}", "resume_command": command}
    record |= {"validation": None}
    write_json(out / "metrics.json", record)
    print(f"stopped by {cause} while {stage}: {last} holds step {step}, {out / 'metrics.json'} says so; {advice}")
    return plan.signals.exit_status


def saved_step(path: Path, since: float) -> int | None:
    """The step of a checkpoint this run wrote (modified after ``since``, a ``time.time()``), else ``None``."""
    if not path.is_file() or path.stat().st_mtime < since - 1:
        return None
    try:
        return int(load_checkpoint(path)["step"])
    except (CheckpointError, OSError):
        return None


# -- how good is "cell everywhere"? -------------------------------------------------------------------
def constant_baseline(labels: list[np.ndarray], foreground: str = "cell") -> dict[str, Any]:
    """The better of the two answers that need no model — ``foreground`` ("cell", or "object" on an own folder:
    ``class_words``) everywhere, or background everywhere — and its mean pixel accuracy: a trained model must
    beat it."""
    cell = float(np.mean([np.asarray(label, bool).mean() for label in labels]))
    answer, accuracy = (f"{foreground} everywhere", cell) if cell >= 0.5 else ("background everywhere", 1.0 - cell)
    return {"answer": answer, "pixel_accuracy": accuracy}


def baseline_note(metrics: dict[str, Any], labels: list[np.ndarray], baseline: dict[str, Any]) -> str:
    """The verdict against the constant answer, image by image (``verdicts.above_baseline``), and a note
    whenever the model is not above it beyond the spread of its per-image gains: 0.8011 against a baseline of
    0.801 is no model at all (issue 17)."""
    cell = baseline["answer"] != "background everywhere"
    constant = [float(np.asarray(y, bool).mean()) if cell else 1.0 - float(np.asarray(y, bool).mean()) for y in labels]
    scores = [float(report["pixel_accuracy"]) for report in metrics["per_image"].values()]
    verdict = verdicts.above_baseline(scores, constant)
    line = f'against answering "{baseline["answer"]}" (no model), image by image: {verdict.sentence()}'
    if verdict.outcome == "better" and verdict.measured_once:
        return f"{line}\nnote: a folder of 12 images or more holds out 2 or more, enough to measure a spread"
    if verdict.outcome == "better":
        return line
    return (
        f'{line}\nnote: this model is not above what answering "{baseline["answer"]}" scores on these images: '
        "it does not fit this data (trained on other images, or too briefly)"
    )


def threshold_line(
    state: dict[str, Any], used: dict[str, float], threshold: float | None, segmentation_threshold: float | None
) -> str:
    """The line ``evaluate`` prints about the thresholds it used, and where each came from."""

    pixel = threshold_source(state, "threshold", threshold, PIXEL_DEFAULT_SOURCE)
    cells = threshold_source(
        state, "segmentation_threshold", segmentation_threshold, "the pixel threshold: the checkpoint stores none"
    )
    return (
        f"thresholds used: pixel {used['threshold']:g} ({pixel}), "
        f"segmentation {used['segmentation_threshold']:g} ({cells})"
    )


# -- evaluate -----------------------------------------------------------------------------------------
def images_to_score(dataset: SegmentationData, state: dict[str, Any], slices: str) -> tuple[SegmentationData, str, str]:
    """The images ``evaluate`` scores, the words that say which, and a note: with ``--slices val``, ISBI's (and the
    built-in data's) validation slices, and of an own folder the images the checkpoint did not train on. Whenever
    images that trained the checkpoint are scored, the note says they flatter it."""
    trained = trained_on(dataset, state)
    if dataset.source != "folder" and slices == "val":
        part = split_data(dataset, verbose=False)[1]
        scored = [dataset.names.index(name) for name in part.names]
        which = f"the {_images(len(scored), 'validation')}"
    elif slices == "val" and trained and len(trained) < len(dataset):
        scored = [i for i in range(len(dataset)) if i not in trained]
        which = f"{runtime.the(len(scored), 'image')} it did not train on"
        others = _images(len(trained), "other")
        note = f"left out: {others} that trained the checkpoint and would flatter it (--slices all scores them too)"
        return dataset.subset(scored), which, note
    else:
        scored, which = list(range(len(dataset))), runtime.every(len(dataset), "image")
    flattering = len(trained & set(scored))
    note = _flatters(flattering, every=flattering == len(scored)) if flattering else ""
    return (dataset if len(scored) == len(dataset) else dataset.subset(scored)), which, note


def trained_on(dataset: SegmentationData, state: dict[str, Any]) -> set[int]:
    """Which of ``dataset``'s images trained the checkpoint: known by their pixels (``images.fingerprint``); where no
    image is known so (a checkpoint from before fingerprints, files saved again), by its record: the same data
    (folder name and image count) less the images its run held out."""
    prints = set(state.get("training_images") or ())
    known = {i for i, image in enumerate(dataset.images) if fingerprint(image) in prints}
    if known:  # else, perhaps, the same folder saved again at another bit depth: its record may still know it
        return known
    record = state.get("record") or {}
    if record.get("data") != dataset.description:
        return set()
    if dataset.source != "folder":
        held_out = split_data(dataset, verbose=False)[1].names
    else:
        held_out = [name for name in record.get("validation_images") or [] if name in dataset.names]
        if not held_out:
            return set()
        if len(held_out) == len(dataset):  # a one-image folder trains and validates on its one image
            return set(range(len(dataset)))
    return {i for i, name in enumerate(dataset.names) if name not in held_out}


def _images(count: int, which: str = "") -> str:
    """E.g. "1 image", "3 other images": a count with its noun, for evaluate's lines."""
    return runtime.plural(count, f"{which} image" if which else "image")


def _flatters(trained: int, every: bool = False) -> str:
    """The note for scores on images the checkpoint was trained on. Every one of several: a run holds out at least
    one image, so the others are copies of training images under other names (doctor's "duplicate images")."""
    if every and trained == 1:
        return "the checkpoint was trained on this image too, so the scores flatter it"
    if every:
        return (
            f"each of these {trained} images has the pixels of an image the checkpoint trained on (a copy under "
            "another name counts), so none is unseen and the scores flatter it; evaluate on images it has not seen"
        )
    return f"the checkpoint was trained on {trained} of these images, which flatters the scores"


def command_evaluate(
    checkpoint: str,
    data: str,
    slices: str,
    out: Path,
    out_given: bool,
    overwrite: bool,
    threshold: float | None,
    segmentation_threshold: float | None,
    precision: str = "auto",
    rotations: int | None = None,
    threads: int | None = None,
) -> int:
    """Measure a checkpoint on labelled images: a table on the terminal and a metrics JSON."""
    clash = lambda folder: sorted({"metrics.json"} & set(occupied(folder)))  # noqa: E731
    with claim_folder(out, out_given, overwrite, clash) as lock:
        return evaluate_into(
            lock.folder,
            checkpoint,
            data,
            slices,
            threshold,
            segmentation_threshold,
            precision,
            rotations,
            threads,
            lock.announce,
        )


def evaluate_into(
    out: Path,
    checkpoint: str,
    data: str,
    slices: str,
    threshold: float | None,
    segmentation_threshold: float | None,
    precision: str,
    rotations: int | None,
    threads: int | None = None,
    announce: Callable[[], None] = lambda: None,
) -> int:
    """``command_evaluate`` once its folder is claimed; ``announce`` says which folder, once the inputs are read."""
    decision = runtime.use_granted_threads(threads)
    model = load_model(checkpoint)
    state = load_checkpoint(checkpoint)
    thresholds = stored_thresholds(state, threshold, segmentation_threshold)
    rotations = stored_rotations(state, rotations)
    try:
        dataset = load_dataset(data, fallback=False)
    except DataUnavailable as error:
        raise UsageError(
            f"evaluate needs the real ISBI 2012 slices, which could not be had ({error.reason}); "
            f"pass --data synthetic to evaluate on the built-in data instead. {error}"
        ) from error
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from error
    if dataset.labels is None:
        raise UsageError(f"{data} has no labels to evaluate against")
    dataset, which, note = images_to_score(dataset, state, slices)
    announce()
    print(f"model: {model_origin(checkpoint, state)}")
    print(f"evaluating it on {which}")  # the data itself: the "Data:" line above
    if note:
        print(f"note: {note}")
    trained = (state.get("data_profile") or {}).get("pixel_size")  # the folder's median, as train recorded it
    sizes = pixel_size_note([f"{Path(data).name}/images"], [diagnose.pixel_size_of(data)], trained)
    if sizes:
        print(f"note: {sizes}")
    how = tiling.inference_precision(model, dataset.images[0].shape[-2:], precision)
    print(f"using {decision.describe()}")
    print(f"predicting in {how.describe()}")
    print(views_note(rotations))
    print(threshold_line(state, thresholds, threshold, segmentation_threshold))
    probabilities = predict_all(model, dataset.images, how, rotations)
    metrics = evaluate_images(probabilities, dataset.labels, dataset.names, thresholds)
    words = class_words(dataset.source)
    print(format_table(metrics, classes=words))
    baseline = constant_baseline(dataset.labels, words[0])
    print(baseline_note(metrics, dataset.labels, baseline))
    path = out / "metrics.json"
    record = {"checkpoint": str(checkpoint), "data": dataset.description, "precision": how.as_dict()}
    record["rotations"] = rotations
    write_json(path, record | metrics | {"baseline": baseline})
    print(f"wrote {path}")
    return 0
