"""The precision policy (unet_lib.runtime): measured, forceable, said out loud, and harmless to the results.

The processor behind this machine kind changes between sessions (an AMD EPYC without bf16, an Intel Xeon with
AMX), so the tests never assume one: they force each code path where they can (monkeypatching the probe) and
check what the real probe decides only against what the hardware reports.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from unet_lib import checkpoints, runtime, tiling, train
from unet_lib.isbi2012 import DataUnavailable, load_isbi2012
from unet_lib.metrics import pixel_accuracy, rand_error
from unet_lib.model import UNetModel


@pytest.fixture(autouse=True)
def fresh_probe(monkeypatch):
    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    runtime._measured_precision.cache_clear()
    runtime._LAYOUTS.clear()
    yield
    runtime._measured_precision.cache_clear()
    runtime._LAYOUTS.clear()


def test_forced_precisions_and_bad_names():
    assert runtime.choose_precision("fp32", "cpu") == runtime.Precision("cpu", None, False, "fp32 as requested")
    assert runtime.choose_precision("bf16", "cpu").dtype == torch.bfloat16
    assert runtime.choose_precision("FP16", "cpu").name == "fp16"
    with pytest.raises(ValueError, match="auto, fp32, bf16, fp16"):
        runtime.choose_precision("int8", "cpu")


def test_the_environment_variable_overrides_auto(monkeypatch):
    monkeypatch.setenv(runtime.PRECISION_ENV, "bf16")
    assert runtime.choose_precision("auto", "cpu").name == "bf16"
    assert runtime.choose_precision("fp32", "cpu").name == "fp32"  # an explicit choice wins


def fake_probe(seconds: dict[tuple[str, bool], float]):
    """A stand-in for runtime.probe: each candidate (precision name, channels_last) takes the given seconds."""

    def probe(precision: runtime.Precision, training: bool):
        return lambda: seconds[(precision.name, precision.channels_last)]

    return probe


def test_auto_takes_bf16_where_it_measures_fast(monkeypatch):
    monkeypatch.setattr(runtime, "low_precision_candidate", lambda device_type: torch.bfloat16)
    times = {("fp32", False): 1.0, ("fp32", True): 0.9, ("bf16", False): 0.3, ("bf16", True): 0.2}
    monkeypatch.setattr(runtime, "probe", fake_probe(times))
    chosen = runtime.choose_precision("auto", "cpu", training=True)
    assert (chosen.name, chosen.channels_last) == ("bf16", True)
    assert "bf16 measured 5.0× the speed of fp32" in chosen.reason and "channels_last" in chosen.describe()


def test_auto_keeps_fp32_where_bf16_is_emulated_slowly(monkeypatch):
    monkeypatch.setattr(runtime, "low_precision_candidate", lambda device_type: torch.bfloat16)
    times = {("fp32", False): 1.0, ("fp32", True): 1.6, ("bf16", False): 30.0, ("bf16", True): 35.0}
    monkeypatch.setattr(runtime, "probe", fake_probe(times))
    chosen = runtime.choose_precision("auto", "cpu", training=True)
    assert chosen.dtype is None and not chosen.channels_last
    assert "bf16 measured 0.0× the speed of fp32" in chosen.reason


def test_a_small_gain_is_not_enough_to_switch(monkeypatch):
    """Timings are noisy here (±25 %): a format must be clearly faster (runtime.FAST_ENOUGH) to be chosen."""
    monkeypatch.setattr(runtime, "low_precision_candidate", lambda device_type: None)
    monkeypatch.setattr(runtime, "probe", fake_probe({("fp32", False): 1.0, ("fp32", True): 0.85}))
    assert runtime.choose_precision("auto", "cpu", training=False) == runtime.Precision(
        "cpu", None, False, "auto for inference: this cpu has no fast bf16 arithmetic"
    )


def test_a_layout_the_probe_chose_says_what_it_measured(monkeypatch):
    """Training's layout is the block probe's (no model given): a walk on the AVX2 stand-in printed "fp32,
    channels_last (auto for training: this cpu has no fast bf16 arithmetic)" in one run and NCHW in the next, with
    no number for the layout; the reason now gives the probe's ratio."""
    monkeypatch.setattr(runtime, "low_precision_candidate", lambda device_type: None)
    monkeypatch.setattr(runtime, "probe", fake_probe({("fp32", False): 1.0, ("fp32", True): 0.7}))
    chosen = runtime.choose_precision("auto", "cpu", training=True)
    assert chosen.channels_last and chosen.reason == (
        "auto for training: this cpu has no fast bf16 arithmetic; channels_last measured 1.43× the speed of NCHW "
        "on a probe block"
    )


def fake_work(times):
    """A stand-in for ``runtime.work_probe`` that reports ``times[channels_last]`` for each pass."""

    def work_probe(precision, model, input_shape, training):
        return lambda: times[precision.channels_last]

    return work_probe


def test_the_layout_is_decided_on_the_real_model_and_shape(monkeypatch):
    """Issue 21: on an AVX2 CPU the block probe chose NCHW while the course's model at 700² ran 1.47× faster in
    channels_last; given the model and its tile, the faster layout of that very work wins."""
    monkeypatch.setattr(runtime, "low_precision_candidate", lambda device_type: None)
    monkeypatch.setattr(runtime, "probe", fake_probe({("fp32", False): 1.0, ("fp32", True): 1.0}))
    monkeypatch.setattr(runtime, "work_probe", fake_work({False: 0.327, True: 0.222}))
    model = UNetModel(base_channels=4, depth=2)
    chosen = runtime.choose_precision("auto", "cpu", training=False, model=model, input_shape=(1, 1, 700, 700))
    assert chosen.dtype is None and chosen.channels_last
    assert "channels_last measured 1.47× the speed of NCHW on this model at 700×700" in chosen.reason
    assert runtime.choose_precision("auto", "cpu", False) == runtime.Precision(
        "cpu", None, False, "auto for inference: this cpu has no fast bf16 arithmetic"
    )  # without the work, the block probe's answer as before


def test_a_layout_gain_below_the_bar_keeps_the_probe_choice_and_says_so(monkeypatch):
    monkeypatch.setattr(runtime, "low_precision_candidate", lambda device_type: torch.bfloat16)
    times = {("fp32", False): 1.0, ("fp32", True): 0.9, ("bf16", False): 0.3, ("bf16", True): 0.2}
    monkeypatch.setattr(runtime, "probe", fake_probe(times))
    monkeypatch.setattr(runtime, "work_probe", fake_work({False: 0.164, True: 0.132}))  # AMX training step: 1.24×
    model = UNetModel(base_channels=4, depth=2)
    chosen = runtime.choose_precision("auto", "cpu", training=True, model=model, input_shape=(2, 1, 380, 380))
    assert (chosen.name, chosen.channels_last) == ("bf16", True)  # nothing gets slower on a bf16 machine
    assert chosen.reason.endswith("; channels_last measured 1.24× the speed of NCHW on this model at 380×380")


def test_a_small_gain_of_the_other_layout_is_said_with_the_bar_it_missed():
    nchw, last = runtime.Precision(reason="fp32 as requested"), runtime.Precision(channels_last=True)
    kept = runtime.pick_layout(nchw, last, 1.05, (1, 1, 572, 572))
    assert dataclasses.replace(kept, reason="") == dataclasses.replace(nchw, reason="")  # NCHW kept
    assert kept.reason == (
        "fp32 as requested; channels_last measured 1.05× the speed of NCHW on this model at 572×572, "
        "below the 1.1× that switches"
    )
    assert runtime.pick_layout(nchw, last, 1.1, (1, 1, 572, 572)).channels_last  # the bar itself switches


def test_the_work_probe_leaves_the_model_alone():
    model = UNetModel(base_channels=4, depth=2, batch_norm=True).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = runtime.work_probe(runtime.Precision(channels_last=True), model, (1, 1, 92, 92), training=True)
    assert run() > 0
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) and model.training
    assert all(p.grad is None for p in model.parameters())
    assert next(model.parameters()).is_contiguous()


def test_the_real_probe_agrees_with_the_hardware_and_is_cached():
    chosen = runtime.choose_precision("auto", "cpu", training=False)
    if runtime.low_precision_candidate("cpu") is None:  # no oneDNN bf16 (e.g. an AVX2-only CPU): never bf16
        assert chosen.dtype is None
    assert runtime.choose_precision("auto", "cpu", training=False) is chosen  # measured once per process
    assert chosen.describe().startswith(chosen.name)


def test_cuda_prefers_bf16_and_falls_back_to_fp16_with_a_scaler(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert runtime.choose_precision("auto", "cuda").name == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    fp16 = runtime.choose_precision("auto", "cuda")
    assert fp16.name == "fp16" and fp16.channels_last and "gradient scaler" in fp16.reason
    # a T4 (compute capability 7.5, Colab's free GPU) makes bf16 tensors but only emulates bf16 arithmetic
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert runtime.choose_precision("auto", "cuda").name == "fp16"
    assert not runtime.Precision("cpu", torch.bfloat16).grad_scaler().is_enabled()


def tiny_batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 1, 44, 44, generator=generator)
    y = (torch.rand(2, 4, 4, generator=generator) > 0.5).long()
    return x, y, torch.ones(2, 4, 4)


@pytest.mark.parametrize("name", ["fp32", "bf16"])
def test_a_training_step_in_each_precision_keeps_the_loss_in_fp32(name, one_thread):
    torch.manual_seed(0)
    model = UNetModel(base_channels=2, depth=2)
    precision = runtime.choose_precision(name, "cpu")
    seen = {}

    def loss_fn(logits, y, w):
        seen["dtype"] = logits.dtype
        return train.default_loss()(logits, y, w)

    before = [p.detach().clone() for p in model.parameters()]
    loss = train.train_step(model, train.make_optimizer(model), loss_fn, *tiny_batch(), precision)
    assert np.isfinite(loss) and seen["dtype"] == torch.float32
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_fit_records_the_precision_it_used(one_thread):
    torch.manual_seed(0)
    model = UNetModel(base_channels=2, depth=2)
    data = [tiny_batch(i) for i in range(4)]
    tiles = [(x[0], y[0], w[0]) for x, y, w in data]
    history = train.fit(model, tiles, steps=2, batch_size=2, device="cpu", precision="fp32", progress=False)
    assert history.precision == "fp32, NCHW, on cpu (fp32 as requested)" and history.world_size == 1


@pytest.fixture(scope="module")
def validation():
    try:
        data = load_isbi2012("train", download=False)
    except DataUnavailable:
        pytest.skip("the ISBI 2012 slices are not in $UNET_DATA_DIR (conftest.py points it at ../shared/data)")
    return data.subset(range(25, 30))


@pytest.fixture(scope="module")
def shipped():
    return checkpoints.load_model(checkpoints.SHIPPED_CHECKPOINT, "cpu")


def test_one_tile_in_fp32_equals_the_four_tiles_of_before(shipped, validation):
    image = validation.images[0]
    four = tiling.predict_probability(shipped, image, tile_size=572, batch_size=4, precision="fp32")
    one = tiling.predict_probability(shipped, image, precision="fp32")
    assert tiling.choose_tile_size(shipped, *image.shape) == 700
    assert np.abs(four - one).max() <= 1e-5


def close_enough(fp32: np.ndarray, bf16: np.ndarray) -> bool:
    """bf16 probabilities next to fp32 ones: 99.9 % of pixels within 0.02, none off by more than 0.05.

    Measured on the shipped model, slices 25–29: 4–68 of 262,144 pixels per slice differ by more than 0.02
    (at most 0.043), all of them on the edge between two classes; the pixel accuracy and the Rand error
    move by at most 0.0001.
    """
    difference = np.abs(fp32 - bf16)
    return float(np.quantile(difference, 0.999)) <= 0.02 and float(difference.max()) <= 0.05


def test_bf16_probabilities_stay_close_to_fp32(shipped, validation):
    """On a crop, so that it is quick even where bf16 is emulated (30–350× slower than fp32)."""
    crop = validation.images[0][:128, :128]
    fp32 = tiling.predict_probability(shipped, crop, precision="fp32")
    bf16 = tiling.predict_probability(shipped, crop, precision="bf16")
    assert close_enough(fp32, bf16) and not np.array_equal(fp32, bf16)


def test_bf16_validation_metrics_stay_within_0_002_of_fp32(shipped, validation):
    if runtime.choose_precision("auto", "cpu", training=False).dtype != torch.bfloat16:
        pytest.skip("bf16 is not fast on this processor (whole slices in emulated bf16 would take minutes)")
    state = checkpoints.load_checkpoint(checkpoints.SHIPPED_CHECKPOINT)
    for image, label in zip(validation.images, validation.labels):
        p32 = tiling.predict_probability(shipped, image, precision="fp32")
        p16 = tiling.predict_probability(shipped, image, precision="bf16")
        assert close_enough(p32, p16)
        t, s = state["threshold"], state["segmentation_threshold"]
        assert abs(pixel_accuracy(p32 > t, label) - pixel_accuracy(p16 > t, label)) <= 0.002
        assert abs(rand_error(p32 > s, label) - rand_error(p16 > s, label)) <= 0.002
