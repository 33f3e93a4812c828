"""From the course to the lab (notebook 11): a trained U-Net as a bioimage.io model package.

Fiji/deepImageJ, napari, ilastik and QuPath run models in the **bioimage.io model format**: one zip with
``rdf.yaml`` (what goes in and comes out, and how), the weights, a test input with its expected output,
a cover image and a documentation page. ``export_package`` writes one from a checkpoint;
``python -m unet_lib export`` is the same on the command line. Needs the ``[export]`` extra
(``bioimageio.core``, ``bioimageio.spec``); the rest of ``unet_lib`` does not.

What the package declares, and why:

* **input** ``raw``: ``(batch, channel, y, x)`` float32, any intensity scale. Sizes: the valid input sizes of
  the U-Net as a minimum and a step (``size_declaration``: 188 + 16·k for the paper's depth 4, the rule
  ``16·m + 60`` of notebook 04). Preprocessing: ``zero_mean_unit_variance`` per image over channel, y and
  x — ``unet_lib.data.normalize``. bioimage.io adds ``eps`` = 10⁻⁶ to the standard deviation, which
  ``normalize`` does not: a relative change of 10⁻⁶/std, below float32's resolution for 8-bit images
  (std ≈ 40) and about 10⁻⁵ for images scaled to [0, 1] (``tests/test_export.py`` measures what it does
  to the probabilities). A fixed mean and std cannot do better: ``normalize`` uses each image's own.
* **output** ``foreground``: ``(batch, channel, y, x)``, the probability of class 1 (what
  ``tiling.predict_probability`` returns), smaller than the input by the pixels the valid convolutions
  lose: a ``SizeReference`` to the input with a negative ``offset`` (−184 for depth 4, 92 px per side).
* **weights**: a PyTorch state dict with the architecture file ``ARCHITECTURE_FILE``, generated from
  ``unet_lib.layers`` and ``unet_lib.model`` by ``architecture_source`` (so the package runs without
  ``unet_lib``), and TorchScript made by tracing, which the Java tools (deepImageJ) need: they cannot run a
  state dict. ``torch.jit.script`` cannot compile ``UNetModel`` (its input checks format ``tuple(x.shape)``
  into messages: "cannot statically infer the expected size of a list"); a trace records the operations of
  one forward pass, and ``center_crop`` reads the sizes from the shapes, so the trace runs at every valid
  size (the tests check another size). Both are tested by ``bioimageio.core``'s ``test_model``.

Running a package: ``package_probability`` runs one through ``bioimageio.core`` on a whole image the way
``tiling.predict_probability`` runs the network, and the tests find the two equal within 10⁻⁴.
"""

from __future__ import annotations

import ast
import errno
import inspect
import os
import shlex
import shutil
import tempfile
import textwrap
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import layers, model, runtime
from .checkpoints import SHIPPED_CHECKPOINT, CheckpointError, load_checkpoint
from .data import load_dataset, mirror_indices, normalize
from .images import READABLE_ADVICE, colour_note, count_slices, read_image_with_colour
from .model import UNetModel, unet_output_size, valid_input_sizes
from .outputs import UsageError
from .tiling import as_channels as tiling_channels

ARCHITECTURE_FILE = "unet_foreground.py"
"""The architecture file in the package: ``unet_lib.layers`` + ``unet_lib.model`` + ``UNetForeground``."""

EXTRA_HINT = "install the export extra: pip install 'unet-from-scratch[export]' (bioimageio.core, bioimageio.spec)"

EPS = 1e-6
"""The ``eps`` bioimage.io's ``zero_mean_unit_variance`` adds to the standard deviation (> 0 by the spec; core uses
1e-6 whatever is declared): the one difference from ``unet_lib.data.normalize``."""

PAPER_DOI = "10.1007/978-3-319-24574-4_28"
ISBI_CHALLENGE_DOI = "10.3389/fnana.2015.00142"
ISBI_DATA_DOI = "10.1371/journal.pbio.1000502"
COURSE_URL = "https://github.com/unet-from-scratch/unet-from-scratch"


def available() -> bool:
    """Whether the ``[export]`` extra is installed (notebook 11 exports only then, and otherwise says how)."""
    try:
        import bioimageio.core  # noqa: F401
        import bioimageio.spec  # noqa: F401
    except ImportError:
        return False
    return True


class UNetForeground(UNetModel):
    """The course's U-Net with the output bioimage.io tools show: the foreground (class 1) probability.

    ``UNetModel`` returns class scores; the tools expect a map they can threshold. The softmax and the choice
    of channel 1 are those of ``unet_lib.tiling.predict_probability``. The state dict is ``UNetModel``'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(super().forward(x).float(), dim=1)[:, 1:2]


# -- the architecture file, generated from the library's own source --------------------------------------
def _definitions(module: Any) -> list[str]:
    """Every top-level statement of ``module`` but its docstring and imports, as its source text."""
    source = inspect.getsource(module)
    tree = ast.parse(source)
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    return [ast.get_source_segment(source, node) for node in body if not isinstance(node, (ast.Import, ast.ImportFrom))]


ARCHITECTURE_HEADER = '''"""The U-Net of the U-Net from Scratch course, for bioimage.io (generated; do not edit).

Made by ``unet_lib.export.architecture_source`` from ``unet_lib/layers.py`` and ``unet_lib/model.py``
(their definitions, character for character) and ``unet_lib.export.UNetForeground``, so that this model
runs with torch and numpy alone. The course: {url}
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import nn
'''


def architecture_source() -> str:
    """The text of ``ARCHITECTURE_FILE``: the definitions of ``layers`` and ``model``, then ``UNetForeground``.

    Generated at every export from the library's source, never kept as a second copy that could drift;
    ``tests/test_export.py`` checks that its definitions are the library's and that it computes the same.
    """
    parts = [ARCHITECTURE_HEADER.format(url=COURSE_URL)]
    for module in (layers, model):
        parts.append(f"# -- from unet_lib/{Path(module.__file__).name} " + "-" * 60)
        parts += _definitions(module)
    parts.append("# -- from unet_lib/export.py " + "-" * 60)
    parts.append(textwrap.dedent(inspect.getsource(UNetForeground)))
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


# -- sizes: what the package says about them --------------------------------------------------------
@dataclass(frozen=True)
class SizeDeclaration:
    """How a U-Net's sizes appear in ``rdf.yaml``: valid inputs ``minimum + step·k``, outputs ``input + offset``."""

    minimum: int
    step: int
    offset: int

    @property
    def halo(self) -> int:
        """Pixels lost per side: the context a tile needs around what it predicts (92 for the paper's depth 4)."""
        return -self.offset // 2


def size_declaration(depth: int, padding: str = "valid") -> SizeDeclaration:
    """The size rule of a depth-``depth`` U-Net as bioimage.io declares it, computed by ``unet_lib.model``."""
    step = 2**depth
    minimum = valid_input_sizes(1, 20 * step, depth, padding)[0]
    return SizeDeclaration(minimum, step, unet_output_size(minimum, depth, padding) - minimum)


# -- the package --------------------------------------------------------------------------------------
def exportable(state: dict[str, Any], path: Path) -> None:
    """``CheckpointError`` in one sentence when a loaded checkpoint cannot become a package."""
    config = state["model_config"]
    if config["num_classes"] < 2:
        raise CheckpointError(
            f"{path} predicts {config['num_classes']} class, and a package gives the probability of class 1 "
            "(cells, nuclei): export a model trained with 2 classes"
        )


@contextmanager
def bioimageio_quietly() -> Iterator[None]:
    """bioimageio logs every step (loguru) and warns about optional fields: quiet while the course uses it."""
    try:
        from loguru import logger
    except ImportError:  # pragma: no cover - a dependency of bioimageio.spec
        yield
        return
    logger.disable("bioimageio")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.enable("bioimageio")


def example_image(image: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """``(C, H, W)`` image for the test tensors and the cover, and what it is: ``image``, or the first ISBI 2012
    training slice from the local data (``$UNET_DATA_DIR``, never downloaded here), else the built-in EM-like one."""
    if image is not None:
        what = "an image given to export_package"
    else:
        data = load_dataset("isbi2012", verbose=False, download=False)
        image, what = data.images[0], f"{data.names[0]} of {data.description}"
    image = np.asarray(image, dtype=np.float32)
    return (image[None] if image.ndim == 2 else image), what


def test_window(channels: np.ndarray, depth: int, padding: str) -> np.ndarray:
    """The largest valid square input that fits in the image, from its centre: the test input."""
    height, width = channels.shape[-2:]
    sizes = valid_input_sizes(1, min(height, width), depth, padding)
    if not sizes:
        raise UsageError(
            f"the example image ({height} × {width}) is smaller than the smallest input this U-Net takes "
            f"({size_declaration(depth, padding).minimum} px): give a larger --image"
        )
    size = sizes[-1]
    top, left = (height - size) // 2, (width - size) // 2
    return channels[:, top : top + size, left : left + size]


def test_tensors(net: UNetForeground, channels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(input, output)`` for the package: the raw window, and the model's output on it after normalisation.

    bioimage.io compares the package's output for ``input`` (after its declared preprocessing, without its
    own padding or cropping) with ``output``, so ``output`` is the network's raw output, made by ``unet_lib``.
    """
    window = np.ascontiguousarray(test_window(channels, net.depth, net.padding))[None]
    with torch.inference_mode():
        output = net(torch.from_numpy(normalize(window))).numpy()
    return window.astype(np.float32), output.astype(np.float32)


def cover(window: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Input (cut to the output's field) beside the foreground probability, as one 8-bit gray image (2:1)."""
    out = output[0, 0]
    margin_h, margin_w = (window.shape[-2] - out.shape[0]) // 2, (window.shape[-1] - out.shape[1]) // 2
    seen = window[0].mean(axis=0)[margin_h : margin_h + out.shape[0], margin_w : margin_w + out.shape[1]]
    spread = seen.max() - seen.min()
    seen = (seen - seen.min()) / (spread if spread > 0 else 1.0)
    return (np.concatenate([seen, out], axis=1) * 255).round().astype(np.uint8)


def documentation(state: dict[str, Any], sizes: SizeDeclaration, name: str, example: str) -> str:
    """The package's ``README.md``: the data, the recipe, the thresholds ``train`` chose, the scores, the sizes."""
    record = state.get("record") or {}
    recipe = state.get("recipe") or record.get("recipe")
    lines = [
        f"# {name}",
        "",
        "A U-Net (Ronneberger, Fischer & Brox 2015) trained with the course *U-Net from Scratch*",
        f"({COURSE_URL}). It returns the probability that each pixel belongs to the foreground (class 1:",
        "cell interior for the ISBI 2012 model).",
        "",
        "## Training",
        "",
        f"- data: {record.get('data', 'not recorded in the checkpoint')}",
        f"- recipe: {recipe if recipe else 'not recorded in the checkpoint'}",
        f"- model: {state['model_config']}",
        f"- training steps: {state['step']}",
    ]
    if "threshold" in state:
        lines.append(
            f"- thresholds chosen by `train` on training images: pixel {state['threshold']:g} (mask = probability "
            f"> threshold), segmentation {state.get('segmentation_threshold', float('nan')):g} (seeds of cells)"
        )
    lines += [
        "",
        "## Input and output",
        "",
        f"- input sizes: {sizes.minimum} + {sizes.step}·k pixels in y and x (k = 0, 1, …);",
        f"  the output is {-sizes.offset} pixels smaller ({sizes.halo} per side): valid convolutions, no padding.",
        "  For a whole image, pad it by mirroring (at least the halo per side, up to a valid size) and crop",
        "  the output, as `unet_lib.tiling.predict_probability` does.",
        "- preprocessing: each image to zero mean and unit variance (`unet_lib.data.normalize`), with the",
        "  statistics of the image itself: normalise first, then pad (the padding changes the statistics).",
        "- output: foreground probability in [0, 1]; `predict` averages rotated views when trained that way,",
        "  this package computes one view.",
        f"- test tensors and cover: the largest valid square from the centre of {example}.",
        "",
        "## Validation",
        "",
        "`bioimageio test` runs the test input through both weight formats. `python -m unet_lib train`",
        "measured the model on its held-out images at the thresholds above (the course's notebook 09):",
        "",
        *scores_lines(record),
        "",
        "## Licence",
        "",
        "The weights are MIT-licensed like the course's code."
        + (
            " The ISBI 2012 images they were trained on are for research and teaching (the course's data/README.md)."
            if "ISBI" in str(record.get("data"))
            else " The terms of the images they were trained on are their owners'."
        ),
    ]
    return "\n".join(lines) + "\n"


def scores_lines(record: dict[str, Any]) -> list[str]:
    """The mean held-out scores a ``train`` run recorded, one line each, or a line that says there are none."""
    scores = (record.get("validation") or {}).get("mean") or {}
    held_out = len(record.get("validation_images") or [])
    shown = [f"- {key}: {value:.4f}" for key, value in scores.items() if isinstance(value, float)]
    if not shown:
        return ["- no scores recorded in the checkpoint (`python -m unet_lib evaluate` measures them)"]
    return [f"Mean over the {held_out} held-out images:", "", *shown]


def export_package(
    checkpoint: str | Path = SHIPPED_CHECKPOINT,
    out: str | Path = "unet.zip",
    image: np.ndarray | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the bioimage.io model package of ``checkpoint`` to ``out`` (a ``.zip``); return ``out``.

    ``image`` (H, W) or (C, H, W) is the example for the test tensors and the cover (default: ``example_image``).
    Every check comes first: a checkpoint that cannot be exported, a taken ``out`` without ``overwrite`` or a
    missing extra end in one ``CheckpointError``/``UsageError`` before anything is written; the zip itself is
    written atomically.
    """
    checkpoint, out = Path(checkpoint), Path(out)
    check_out(out, overwrite)
    if not available():
        raise UsageError(f"exporting needs bioimageio.core and bioimageio.spec: {EXTRA_HINT}")
    state = load_checkpoint(checkpoint)
    exportable(state, checkpoint)
    net = UNetForeground(**state["model_config"])
    net.load_state_dict(state["model_state"])
    net.eval()
    name = name or f"U-Net from Scratch ({checkpoint.stem})"
    channels, example = example_image(image)
    if channels.shape[0] != net.in_channels:
        raise UsageError(
            f"the example image has {runtime.plural(channels.shape[0], 'channel')}, the model takes {net.in_channels}"
        )
    with tempfile.TemporaryDirectory(prefix=".export-", dir=runtime.make_folder(out.parent)) as folder:
        descr = describe(net, state, channels, example, Path(folder), name)
        runtime.write_atomic(out, lambda temporary: _save_package(descr, Path(temporary)))
    return out


def _save_package(descr: Any, path: Path) -> None:
    from bioimageio.spec import save_bioimageio_package

    with bioimageio_quietly():
        written = save_bioimageio_package(descr, output_path=path.with_suffix(".zip"))
    if Path(written) != path:
        shutil.move(written, path)


def write_files(
    net: UNetForeground, state: dict[str, Any], channels: np.ndarray, example: str, folder: Path, name: str
) -> dict[str, Path]:
    """The package's files in ``folder``: weights, architecture, test tensors, cover, documentation."""
    window, output = test_tensors(net, channels)
    files = {
        "weights": folder / "weights.pt",
        "torchscript": folder / "weights_torchscript.pt",
        "architecture": folder / ARCHITECTURE_FILE,
        "test_input": folder / "test_input.npy",
        "test_output": folder / "test_output.npy",
        "cover": folder / "cover.png",
        "documentation": folder / "README.md",
    }
    torch.save(net.state_dict(), files["weights"])
    with warnings.catch_warnings():  # the trace warns that the input checks' Python values are fixed in it
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(net, torch.from_numpy(normalize(window)), check_trace=False)
    traced.save(str(files["torchscript"]))
    files["architecture"].write_text(architecture_source(), encoding="utf-8")
    np.save(files["test_input"], window)
    np.save(files["test_output"], output)
    Image.fromarray(cover(window, output)).save(files["cover"])
    sizes = size_declaration(net.depth, net.padding)
    files["documentation"].write_text(documentation(state, sizes, name, example), encoding="utf-8")
    return files


def describe(
    net: UNetForeground, state: dict[str, Any], channels: np.ndarray, example: str, folder: Path, name: str
) -> Any:
    """The ``ModelDescr`` (bioimage.io spec 0.5) of the package, its files written into ``folder``."""
    from bioimageio.spec.model import v0_5 as spec

    files = write_files(net, state, channels, example, folder, name)
    sizes = size_declaration(net.depth, net.padding)
    space = [spec.AxisId("y"), spec.AxisId("x")]
    names = ["gray"] if net.in_channels == 1 else [f"channel{k}" for k in range(net.in_channels)]
    input_axes = [
        spec.BatchAxis(),
        spec.ChannelAxis(channel_names=[spec.Identifier(n) for n in names]),
        *(spec.SpaceInputAxis(id=a, size=spec.ParameterizedSize(min=sizes.minimum, step=sizes.step)) for a in space),
    ]
    output_axes = [
        spec.BatchAxis(),
        spec.ChannelAxis(channel_names=[spec.Identifier("foreground")]),
        *(
            spec.SpaceOutputAxis(
                id=a, size=spec.SizeReference(tensor_id=spec.TensorId("raw"), axis_id=a, offset=sizes.offset)
            )
            for a in space
        ),
    ]
    normalisation = spec.ZeroMeanUnitVarianceDescr(
        kwargs=spec.ZeroMeanUnitVarianceKwargs(axes=[spec.AxisId("channel"), *space], eps=EPS)
    )
    version = torch.__version__.split("+")[0]
    with bioimageio_quietly():
        return spec.ModelDescr(
            name=name,
            description="U-Net (Ronneberger et al. 2015) from the course U-Net from Scratch: the probability of the "
            "foreground class for each pixel, from a valid-padding network (the output is smaller than the input).",
            authors=[spec.Author(name="U-Net from Scratch course")],
            cite=[
                spec.CiteEntry(
                    text="Ronneberger O, Fischer P, Brox T (2015). U-Net: Convolutional Networks for Biomedical Image "
                    "Segmentation. MICCAI 2015, LNCS 9351: 234-241.",
                    doi=spec.Doi(PAPER_DOI),
                ),
                spec.CiteEntry(
                    text="Arganda-Carreras I et al. (2015). Crowdsourcing the creation of image segmentation "
                    "algorithms for connectomics. Frontiers in Neuroanatomy 9:142 (the ISBI 2012 challenge).",
                    doi=spec.Doi(ISBI_CHALLENGE_DOI),
                ),
                spec.CiteEntry(
                    text="Cardona A et al. (2010). An Integrated Micro- and Macroarchitectural Analysis of the "
                    "Drosophila Brain by Computer-Assisted Serial Section Electron Microscopy. PLoS Biol 8(10): "
                    "e1000502 (the ISBI 2012 images).",
                    doi=spec.Doi(ISBI_DATA_DOI),
                ),
            ],
            license=spec.LicenseId("MIT"),
            git_repo=spec.HttpUrl(COURSE_URL),
            tags=["unet", "segmentation", "2d", "pytorch", "unet-from-scratch"]
            + (["electron-microscopy"] if "ISBI" in str((state.get("record") or {}).get("data")) else []),
            documentation=spec.FileDescr(source=files["documentation"]),
            covers=[spec.FileDescr(source=files["cover"])],
            inputs=[
                spec.InputTensorDescr(
                    id=spec.TensorId("raw"),
                    description="a gray image, any intensity scale (each image is normalised on its own)",
                    axes=input_axes,
                    test_tensor=spec.FileDescr(source=files["test_input"]),
                    data=spec.IntervalOrRatioDataDescr(type="float32"),
                    preprocessing=[normalisation],
                )
            ],
            outputs=[
                spec.OutputTensorDescr(
                    id=spec.TensorId("foreground"),
                    description="probability of the foreground class (1), for the centre of the input",
                    axes=output_axes,
                    test_tensor=spec.FileDescr(source=files["test_output"]),
                    data=spec.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0)),
                )
            ],
            weights=spec.WeightsDescr(
                pytorch_state_dict=spec.PytorchStateDictWeightsDescr(
                    source=files["weights"],
                    architecture=spec.ArchitectureFromFileDescr(
                        source=files["architecture"],
                        callable=spec.Identifier("UNetForeground"),
                        kwargs=dict(state["model_config"]),
                    ),
                    pytorch_version=spec.Version(version),
                ),
                torchscript=spec.TorchscriptWeightsDescr(
                    source=files["torchscript"], pytorch_version=spec.Version(version), parent="pytorch_state_dict"
                ),
            ),
            config=spec.Config(unet_lib=training_config(state)),
        )


def training_config(state: dict[str, Any]) -> dict[str, Any]:
    """What ``rdf.yaml``'s ``config.unet_lib`` records: the model, the recipe, the thresholds, the run."""
    record = state.get("record") or {}
    keep = ("command", "data", "seed", "steps", "stopped_by", "training_seconds", "device", "torch")
    return {
        "model_config": dict(state["model_config"]),
        "recipe": state.get("recipe") or record.get("recipe"),
        "step": state["step"],
        "thresholds": {key: state[key] for key in ("threshold", "segmentation_threshold") if key in state},
        "rotations": state.get("rotations", 1),
        "run": {key: record[key] for key in keep if key in record},
        "validation_mean": (record.get("validation") or {}).get("mean"),
    }


# -- running a package: bioimageio.core on a whole image ---------------------------------------------------
def whole_image_input(channels: np.ndarray, sizes: SizeDeclaration) -> np.ndarray:
    """``(C, n, n')``: the image mirrored on every side (at the top and left by the halo) up to the smallest valid
    input whose output covers it, as ``tiling.predict_logits`` pads its one tile, so the pooling grids agree."""
    _, height, width = channels.shape
    sides = []
    for size in (height, width):
        steps = max(0, -(-(size - sizes.offset - sizes.minimum) // sizes.step))  # ceil: the output must cover size
        sides.append(mirror_indices(-sizes.halo, -sizes.halo + sizes.minimum + steps * sizes.step, size))
    return channels[:, sides[0][:, None], sides[1][None, :]]


def package_probability(package: str | Path, image: np.ndarray) -> np.ndarray:
    """The foreground probability ``(H, W)`` of a whole image, computed by ``bioimageio.core`` from ``package``.

    What a lab tool does with the package, spelled out: a whole image is rarely a valid input size (ISBI's 512 is
    not: 508 and 524 are), so it is mirrored up to one (``whole_image_input``) and the output cut back. The
    normalisation must use the statistics of the *image*, not of the mirrored array: core computes them from the
    array it is given, and the extra mirrored pixels change the probabilities by up to 0.2 (measured on an ISBI
    slice), so they are handed to core with the sample. Then it equals ``tiling.predict_probability`` (fp32)
    within 10⁻⁴ (``tests/test_export.py``). Core's tiled prediction (``blocksize_parameter``,
    ``input_block_shape``) does not run networks whose output is smaller than their input (bioimageio.core 0.11:
    "Block data shape does not match"), so one forward pass computes the whole image here.
    """
    from bioimageio.core import Sample, Tensor, predict
    from bioimageio.core.stat_measures import SampleMean, SampleStd
    from bioimageio.spec import load_model_description

    with bioimageio_quietly():
        descr = load_model_description(package)
        raw, out = descr.inputs[0], descr.outputs[0]
        y = next(a for a in raw.axes if a.id == "y")
        offset = next(a for a in out.axes if a.id == "y").size.offset
        sizes = SizeDeclaration(y.size.min, y.size.step, offset)
        channels = tiling_channels(image)
        dims = tuple(str(a.id) for a in raw.axes)
        whole = Tensor(channels[None], dims=dims)
        axes = tuple(a.id for a in raw.axes if a.type != "batch")
        stat = {
            SampleMean(member_id=raw.id, axes=axes): whole.mean(dim=axes),
            SampleStd(member_id=raw.id, axes=axes): whole.std(dim=axes),
        }
        padded = Tensor(np.ascontiguousarray(whole_image_input(channels, sizes))[None], dims=dims)
        result = predict(model=descr, inputs=Sample(members={raw.id: padded}, stat=stat, id="image"))
    probability = np.asarray(result.members[out.id].data)[0, 0]
    return np.ascontiguousarray(probability[: channels.shape[1], : channels.shape[2]], dtype=np.float32)


def check_out(out: Path, overwrite: bool) -> None:
    """``UsageError`` for an ``out`` that is no ``.zip``, is taken (without ``overwrite``), is a folder, or lies where
    nothing can be written (under a file, in a read-only folder): found before the first line is printed, and
    without creating a folder that a refused export would leave behind."""
    if out.suffix != ".zip":
        raise UsageError(f"--out {out} must end in .zip: a bioimage.io package is one zip file")
    if out.exists() and not overwrite:
        raise UsageError(f"--out {out} already exists: choose another --out, or add --overwrite to replace it")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder: give the path of a .zip file")
    nearest = next(folder for folder in out.parents if folder.exists())  # the package makes the rest at its end
    if not nearest.is_dir():
        raise UsageError(runtime.write_error_message(out, OSError(errno.ENOTDIR, "Not a directory")))
    if not os.access(nearest, os.W_OK):
        raise UsageError(runtime.write_error_message(out, OSError(errno.EACCES, "Permission denied")))


# -- the command ----------------------------------------------------------------------------------------
def free_zip(path: Path) -> Path:
    """``runs/export.zip`` → ``runs/export-2.zip``, ``-3`` …: the first name not taken."""
    number = 2
    while path.with_name(f"{path.stem}-{number}{path.suffix}").exists():
        number += 1
    return path.with_name(f"{path.stem}-{number}{path.suffix}")


def example_from(path: Path) -> tuple[np.ndarray, bool]:
    """``--image``: one gray image (``images.read_image_with_colour``) and whether it was colour; a missing file, one
    that does not open, or a stack is a ``UsageError`` that says what to give instead."""
    if not path.is_file():
        raise UsageError(f"no image at --image {path}")
    try:
        slices = count_slices(path)
        if slices > 1:
            raise UsageError(
                f"--image {path}: {path.name} is a stack of {slices} slices: save one slice as an image of its own "
                "and give that"
            )
        return read_image_with_colour(path)
    except ValueError as error:
        hint = f"; {READABLE_ADVICE}" if str(error).startswith("cannot read") else ""
        raise UsageError(f"--image {path}: {error}{hint}") from error


def command_export(
    checkpoint: str | Path,
    out: Path,
    given: bool,
    overwrite: bool,
    image_path: str | None = None,
    threads: int | None = None,
) -> int:
    """``python -m unet_lib export``: a taken default ``--out`` moves on to ``-2`` (said once the inputs are read, so
    that a mistake is one line); a given one needs --overwrite."""
    decision = runtime.use_granted_threads(threads)
    state = load_checkpoint(checkpoint)
    image, colour = None, ""
    if image_path is not None:
        image, is_colour = example_from(Path(image_path))
        colour = colour_note([Path(image_path).name], 1) if is_colour else ""
    moved = ""
    if out.exists() and not given and not overwrite:
        fresh = free_zip(out)
        moved, out = f"{out} exists, so this package is written to {fresh}", fresh
    check_out(out, overwrite)  # a mistake is one line, before "using N threads" and the move to -2
    exportable(state, Path(checkpoint))
    if moved:
        print(moved)
    print(f"using {decision.describe()}")
    if colour:  # the package takes one gray channel, as training did: its test input and cover show the mean
        print(f"note: {colour}")
    trained_on = str((state.get("record") or {}).get("data") or "")
    if image_path is None and trained_on and not any(em in trained_on for em in ("ISBI", "EM-like")):
        print(
            f"note: this model trained on {trained_on}, but without --image the package's test input and cover "
            "are an electron-microscopy slice: add --image with one of your images"
        )
    written = export_package(checkpoint, out, image=image, overwrite=overwrite)
    sizes = size_declaration(state["model_config"]["depth"], state["model_config"]["padding"])
    print(
        f"wrote {written}: a bioimage.io model package (rdf.yaml, state dict + architecture, TorchScript, test "
        f"tensors, cover, README.md). Inputs {sizes.minimum} + {sizes.step}·k px; the output is {-sizes.offset} px "
        f"smaller ({sizes.halo} per side). Check it with: bioimageio test {shlex.quote(str(written))}"
    )
    return 0
