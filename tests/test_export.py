"""bioimage.io packages (issue 20): ``unet_lib.export`` and ``python -m unet_lib export``, round trip, offline.

The shipped checkpoint and a tiny trained one are exported, validated by ``bioimageio.spec``, tested by
``bioimageio.core``'s own ``test_model``, and the package run by core on a whole slice is compared with
``unet_lib.tiling.predict_probability``. Needs the ``[export]`` extra (part of ``[test]``); without it the
tests skip, in CI they fail. Nothing here reaches the network (see README, "Offline").
"""

from __future__ import annotations

import ast
import os
import shlex
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
import yaml
from PIL import Image

from unet_lib import export, layers, model
from unet_lib.checkpoints import SHIPPED_CHECKPOINT, load_model, save_checkpoint
from unet_lib.cli import main
from unet_lib.data import load_dataset, normalize
from unet_lib.model import UNetModel, unet_output_size
from unet_lib.tiling import predict_probability

if os.environ.get("CI"):
    import bioimageio.core  # noqa: F401  (CI installs the [test] extra, which includes [export])
else:
    pytest.importorskip("bioimageio.core", reason="the [export] extra is not installed")

TINY = ["--base-channels", "2", "--depth", "2", "--tile-size", "92", "--batch-size", "2", "--val-tiles", "2"]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def slice0() -> np.ndarray:
    """A whole 512 × 512 slice: ISBI 2012 training slice 0, or the built-in one offline."""
    return load_dataset("isbi2012", verbose=False, download=False).images[0]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    return export.export_package(SHIPPED_CHECKPOINT, tmp_path_factory.mktemp("shipped") / "isbi.zip")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A tiny model trained by ``train`` on the built-in data, exported by the command line."""
    run = tmp_path_factory.mktemp("tiny")
    torch.set_num_threads(1)
    assert main(["train", "--data", "synthetic", "--steps", "2", "--out", str(run / "train"), *TINY]) == 0
    assert main(["export", "--checkpoint", str(run / "train" / "model.ckpt"), "--out", str(run / "tiny.zip")]) == 0
    return run


def rdf(package: Path) -> dict:
    with zipfile.ZipFile(package) as archive:
        return yaml.safe_load(archive.read("rdf.yaml"))


# -- the architecture file is the library's source ------------------------------------------------------
def test_architecture_file_is_generated_from_the_library_source():
    """Every definition of layers.py and model.py appears character for character; nothing imports unet_lib."""
    generated = export.architecture_source()
    tree = ast.parse(generated)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and "unet_lib" in (n.module or "")]
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for module in (layers, model):
        source = Path(module.__file__).read_text()
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert ast.get_source_segment(source, node) in generated, f"{module.__name__}.{node.name} differs"
                defined.discard(node.name)
    assert defined == {"UNetForeground"}


def test_architecture_file_computes_what_unet_lib_computes(tmp_path):
    """Loaded alone (as bioimageio.core loads it), it rebuilds the network: same weights, same output."""
    path = tmp_path / export.ARCHITECTURE_FILE
    path.write_text(export.architecture_source())
    namespace: dict = {"__name__": "unet_foreground"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    config = dict(base_channels=4, depth=2, batch_norm=True)
    torch.manual_seed(0)
    ours = export.UNetForeground(**config).eval()
    theirs = namespace["UNetForeground"](**config).eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(1, 1, 60, 60)
    with torch.no_grad():
        expected = torch.softmax(UNetModel.forward(ours, x), dim=1)[:, 1:2]
        assert torch.equal(theirs(x), expected) and torch.equal(ours(x), expected)


# -- sizes -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4, 5])
def test_size_declaration_is_the_size_rule(depth):
    sizes = export.size_declaration(depth)
    assert sizes.step == 2**depth and sizes.offset == -(12 * 2**depth - 8) and sizes.halo == 6 * 2**depth - 4
    for k in range(4):
        n = sizes.minimum + k * sizes.step
        assert unet_output_size(n, depth) == n + sizes.offset
    assert all(unet_output_size(n, depth) is None for n in range(1, sizes.minimum))
    assert all(unet_output_size(sizes.minimum + j, depth) is None for j in range(1, sizes.step))


def test_paper_depth_declares_16m_plus_60_and_92_px_per_side():
    sizes = export.size_declaration(4)
    assert (sizes.minimum, sizes.step, sizes.offset, sizes.halo) == (188, 16, -184, 92)
    assert export.size_declaration(3, "same") == export.SizeDeclaration(8, 8, 0)


# -- the shipped model: valid, tested by core, equal to unet_lib --------------------------------------------
def test_shipped_package_holds_what_the_tools_need(shipped):
    with zipfile.ZipFile(shipped) as archive:
        names = set(archive.namelist())
    assert {"rdf.yaml", "weights.pt", "weights_torchscript.pt", export.ARCHITECTURE_FILE, "test_input.npy"} <= names
    assert {"test_output.npy", "cover.png", "README.md"} <= names
    described = rdf(shipped)
    assert described["format_version"].startswith("0.5") and described["license"] == "MIT"
    assert "electron-microscopy" in described["tags"]
    (raw,), (out,) = described["inputs"], described["outputs"]
    assert raw["axes"][2]["size"] == {"min": 188, "step": 16}
    assert out["axes"][2]["size"] == {"tensor_id": "raw", "axis_id": "y", "offset": -184}
    normalising = [p for p in raw["preprocessing"] if p["id"] == "zero_mean_unit_variance"]
    assert len(normalising) == 1 and normalising[0]["kwargs"]["axes"] == ["channel", "y", "x"]
    assert float(normalising[0]["kwargs"]["eps"]) == export.EPS == 1e-6  # PyYAML reads YAML 1.2's 1e-06 as text
    assert {c["doi"] for c in described["cite"]} >= {export.PAPER_DOI, export.ISBI_CHALLENGE_DOI}
    config = described["config"]["unet_lib"]
    assert config["thresholds"] == {"threshold": 0.1, "segmentation_threshold": 0.9} and config["recipe"]["depth"] == 4
    assert all("github_user" not in author for author in described["authors"])  # its lookup needs the network


@pytest.mark.slow
def test_shipped_package_is_valid_and_passes_bioimageio_core_test(shipped):
    from bioimageio.core import test_model
    from bioimageio.spec import load_model_description

    with export.bioimageio_quietly():
        descr = load_model_description(shipped, perform_io_checks=True)
        summary = test_model(shipped)
    assert descr.name.startswith("U-Net from Scratch")
    failed = [f"{d.name}: {[e.msg for e in d.errors]}" for d in summary.details if d.status != "passed"]
    assert summary.status == "passed", failed
    assert len(summary.details) >= 17


@pytest.mark.slow
def test_core_on_a_whole_slice_equals_predict_probability(shipped, slice0):
    """The round trip, fp32: max |difference| 4.1e-5 measured on ISBI slice 0 in [0, 1] (the eps of the
    declared normalisation), 2.5e-6 on its 8-bit values."""
    expected = predict_probability(load_model(SHIPPED_CHECKPOINT), slice0, precision="fp32")
    got = export.package_probability(shipped, slice0)
    print(f"max |core - predict_probability| on a whole slice: {np.abs(got - expected).max():.2e}")
    assert got.shape == expected.shape == slice0.shape
    assert np.abs(got - expected).max() <= 1e-4
    on_255_scale = export.package_probability(shipped, slice0 * 255)  # the same image on an 8-bit scale
    assert np.abs(on_255_scale - expected).max() <= 1e-4


def test_test_tensors_are_the_networks_output_on_a_training_image(shipped, slice0):
    with zipfile.ZipFile(shipped) as archive:
        window = np.load(archive.open("test_input.npy"))
        output = np.load(archive.open("test_output.npy"))
    assert window.shape == (1, 1, 508, 508) and output.shape == (1, 1, 324, 324)
    np.testing.assert_array_equal(window[0, 0], slice0[2:510, 2:510])
    net = load_model(SHIPPED_CHECKPOINT)
    with torch.no_grad():
        logits = net(torch.from_numpy(normalize(window)))
    np.testing.assert_allclose(output, torch.softmax(logits, dim=1)[:, 1:2].numpy(), atol=1e-6)


def test_torchscript_trace_runs_at_another_valid_size(shipped, tmp_path):
    with zipfile.ZipFile(shipped) as archive:
        archive.extract("weights_torchscript.pt", tmp_path)
    traced = torch.jit.load(str(tmp_path / "weights_torchscript.pt"))
    net = export.UNetForeground(**load_model(SHIPPED_CHECKPOINT).config)
    net.load_state_dict(load_model(SHIPPED_CHECKPOINT).state_dict())
    x = torch.randn(1, 1, 252, 220)
    with torch.no_grad():
        assert torch.allclose(traced(x), net.eval()(x), atol=1e-6) and traced(x).shape[-2:] == (68, 36)


def test_core_tiled_prediction_refuses_a_network_that_crops(shipped, slice0):
    """The documented limit (bioimageio.core 0.11): blockwise prediction expects outputs of the input's size.
    When this starts to pass through, core has learnt it: update README's "What the package holds"."""
    from bioimageio.core import predict
    from bioimageio.spec import load_model_description

    with export.bioimageio_quietly():
        descr = load_model_description(shipped)
        with pytest.raises(ValueError, match="[Bb]lock"):
            predict(model=descr, inputs=slice0[None, None, :508, :508], input_block_shape={"raw": {"y": 380, "x": 380}})


# -- a model trained by `train`, and the command line --------------------------------------------------
@pytest.mark.slow
def test_tiny_trained_model_exports_and_passes_core_test(tiny, capsys):
    from bioimageio.core import test_model

    with export.bioimageio_quietly():
        summary = test_model(tiny / "tiny.zip")
    assert summary.status == "passed", [d.name for d in summary.details if d.status != "passed"]
    described = rdf(tiny / "tiny.zip")
    assert described["inputs"][0]["axes"][2]["size"] == {"min": 44, "step": 4}
    assert described["outputs"][0]["axes"][2]["size"]["offset"] == -40
    assert described["config"]["unet_lib"]["run"]["steps"] == 2
    assert "electron-microscopy" not in described["tags"]  # the built-in data is EM-like, not ISBI's


def test_export_refuses_in_one_line(tiny, tmp_path, capsys):
    def error_of(*argv: str) -> str:
        capsys.readouterr()
        assert main(["export", *argv]) == 2
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and "Traceback" not in err
        assert out == ""  # a walk saw "using 2 threads" above a taken --out's error: one line in all
        return err

    taken = tiny / "tiny.zip"
    before = taken.read_bytes()
    assert "--overwrite" in error_of("--checkpoint", str(tiny / "train" / "model.ckpt"), "--out", str(taken))
    assert taken.read_bytes() == before
    assert ".zip" in error_of("--out", str(tmp_path / "model.tar"))
    assert "no checkpoint" in error_of("--checkpoint", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "a.zip"))
    one_class = UNetModel(num_classes=1, base_channels=2, depth=1)
    save_checkpoint(tmp_path / "one.ckpt", one_class)
    assert "2 classes" in error_of("--checkpoint", str(tmp_path / "one.ckpt"), "--out", str(tmp_path / "b.zip"))
    assert "no image" in error_of("--image", str(tmp_path / "none.png"), "--out", str(tmp_path / "c.zip"))
    # a walk: an --out whose folder cannot be written printed "using 1 thread" and a note above its error
    (tmp_path / "a_file").write_bytes(b"")
    said = error_of("--checkpoint", str(tiny / "train" / "model.ckpt"), "--out", str(tmp_path / "a_file" / "d.zip"))
    assert f"{tmp_path / 'a_file'} is a file, not a folder; move it or choose another folder" in said
    (tmp_path / "a_file").unlink()
    # a walk: --image with a file that does not open said no more than that; a stack was told how to train
    (tmp_path / "notes.png").write_bytes(b"not an image")
    said = error_of("--image", str(tmp_path / "notes.png"), "--out", str(tmp_path / "e.zip"))
    assert "cannot read notes.png as an image" in said and said.rstrip().endswith(
        "; give a PNG, TIFF, JPEG or BMP file"
    )
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 64, 64), np.uint8), photometric="minisblack")
    said = error_of("--image", str(tmp_path / "stack.tif"), "--out", str(tmp_path / "f.zip"))
    assert "stack.tif is a stack of 3 slices: save one slice as an image of its own and give that" in said
    assert "training" not in said
    (tmp_path / "notes.png").unlink()
    (tmp_path / "stack.tif").unlink()
    # a taken default --out moved on to -2 and said so above the refusal that came next: one line in all
    (tmp_path / "export.zip").write_bytes(b"taken")
    capsys.readouterr()
    with pytest.raises(ValueError, match="2 classes"):
        export.command_export(tmp_path / "one.ckpt", tmp_path / "export.zip", given=False, overwrite=False)
    assert capsys.readouterr().out == ""
    (tmp_path / "export.zip").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.ckpt"]  # nothing written, no temporary left


def test_export_without_the_extra_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "bioimageio.core", None)
    with pytest.raises(export.UsageError, match=r"\[export\]"):
        export.export_package(SHIPPED_CHECKPOINT, tmp_path / "a.zip")


def test_default_out_moves_on_and_overwrite_replaces(tiny, monkeypatch, capsys):
    monkeypatch.chdir(tiny)
    checkpoint = str(tiny / "train" / "model.ckpt")
    assert main(["export", "--checkpoint", checkpoint]) == 0
    assert main(["export", "--checkpoint", checkpoint]) == 0
    printed = capsys.readouterr().out
    assert "runs/unet-2.zip" in printed and "\nusing " in printed  # every run says its threads (README)
    # a mistake is one line, not "runs/unet.zip exists, so …" first (a learner's walk-through)
    assert main(["export", "--checkpoint", str(tiny / "none.ckpt"), "--threads", "1"]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.startswith("error: no checkpoint at")
    assert main(["export", "--checkpoint", checkpoint, "--out", "runs/unet.zip", "--overwrite"]) == 0
    assert sorted(p.name for p in (tiny / "runs").iterdir()) == ["unet-2.zip", "unet.zip"]


def test_a_model_of_other_images_without_image_gets_a_note(tiny, tmp_path, capsys):
    """A walk exported a nuclei model without --image: its package's test input and cover were an EM slice, unsaid."""
    state = torch.load(tiny / "train" / "model.ckpt", weights_only=False)
    state["record"]["data"] = "your own data (nuclei: 13 images with masks)"
    torch.save(state, tmp_path / "nuclei.ckpt")
    for checkpoint, out in ((tmp_path / "nuclei.ckpt", "a.zip"), (tiny / "train" / "model.ckpt", "b.zip")):
        assert main(["export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / out)]) == 0
    nuclei, em = capsys.readouterr().out.split("wrote ", 1)
    assert (
        "note: this model trained on your own data (nuclei: 13 images with masks), but without --image the package's "
        "test input and cover are an electron-microscopy slice: add --image with one of your images"
    ) in nuclei
    assert "note:" not in em  # trained on the built-in EM-like slices: an EM slice is like them


def test_the_command_that_checks_the_package_can_be_pasted(tiny, tmp_path, capsys):
    """A walk exported into "my models/": "Check it with: bioimageio test …/my models/a.zip" broke at the space."""
    out = tmp_path / "my models" / "a.zip"
    assert main(["export", "--checkpoint", str(tiny / "train" / "model.ckpt"), "--out", str(out)]) == 0
    assert f"Check it with: bioimageio test {shlex.quote(str(out))}" in capsys.readouterr().out


def test_a_colour_example_image_gets_the_colour_note(tiny, tmp_path, capsys):
    # A review: --image with a colour picture was averaged to gray without the note train and predict print.
    gray = (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8)
    Image.fromarray(np.stack([gray, gray // 2, gray // 4], axis=-1)).save(tmp_path / "tinted.png")
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "gray_as_rgb.png")
    checkpoint = str(tiny / "train" / "model.ckpt")
    for name, out in (("tinted.png", "a.zip"), ("gray_as_rgb.png", "b.zip")):
        assert (
            main(["export", "--checkpoint", checkpoint, "--image", str(tmp_path / name), "--out", str(tmp_path / out)])
            == 0
        )
    first, second = capsys.readouterr().out.split("wrote ", 1)
    assert "note: tinted.png is colour, read as gray (the mean of the red, green and blue channels); " in first
    assert "note:" not in second  # gray saved as RGB is gray
