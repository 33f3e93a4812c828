"""UNetModel: the paper's numbers, size arithmetic, clear errors (notebooks 04–05)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unet_lib.model import (
    UNetModel,
    count_conv_layers,
    count_parameters,
    nearest_valid_sizes,
    receptive_field,
    unet_output_size,
    valid_input_sizes,
)


@pytest.fixture(scope="module")
def paper_unet():
    return UNetModel()


def test_paper_numbers(paper_unet):
    assert count_conv_layers(paper_unet) == 23
    assert count_parameters(paper_unet) == 31_030_658


def test_seed_example(paper_unet):
    with torch.no_grad():
        assert paper_unet(torch.rand(1, 1, 572, 572)).shape == (1, 2, 388, 388)


def test_every_layer_is_registered(paper_unet):
    keys = paper_unet.state_dict().keys()
    assert "head.weight" in keys and "head.bias" in keys
    n_params_before = count_parameters(paper_unet)
    with torch.no_grad():
        paper_unet(torch.rand(1, 1, 188, 188))
    assert count_parameters(paper_unet) == n_params_before  # nothing created in forward


def test_he_initialisation():
    torch.manual_seed(0)
    model = UNetModel(base_channels=64, depth=1)
    conv = model.down_convs[1][0]  # 64 → 128, N = 9 · 64 inputs per unit
    assert conv.weight.std().item() == pytest.approx((2 / (9 * 64)) ** 0.5, rel=0.05)
    assert torch.all(conv.bias == 0)


def test_paper_sizes():
    assert valid_input_sizes(150, 600) == [16 * m + 60 for m in range(8, 34)]
    assert all(unet_output_size(n) == n - 184 for n in valid_input_sizes(188, 2000))
    assert nearest_valid_sizes(570) == (556, 572)
    assert nearest_valid_sizes(572) == (572, 572)
    assert nearest_valid_sizes(100) == (None, 188)


@settings(max_examples=200, deadline=None)
@given(depth=st.integers(0, 6), b=st.integers(4, 60))
def test_general_valid_formula(depth, b):
    """Valid inputs are 2**d·(b+8) − 4 for a bottleneck size b ≥ 4, returning input − (12·2**d − 8)."""
    n = 2**depth * (b + 8) - 4
    assert unet_output_size(n, depth) == n - (12 * 2**depth - 8)
    assert unet_output_size(n + 1, depth) is None or depth == 0


@settings(max_examples=300, deadline=None)
@given(depth=st.integers(0, 6), n=st.integers(1, 3000))
def test_valid_sizes_are_exactly_the_formula(depth, n):
    out = unet_output_size(n, depth)
    k, rem = divmod(n + 4, 2**depth)
    if out is not None:
        assert rem == 0 and out == n - (12 * 2**depth - 8) and out >= 1
    else:
        assert rem != 0 or n - (12 * 2**depth - 8) < 1 or k - 8 < 1


@settings(max_examples=100, deadline=None)
@given(depth=st.integers(0, 6), n=st.integers(1, 3000))
def test_same_padding_sizes(depth, n):
    assert (unet_output_size(n, depth, "same") == n) == (n % 2**depth == 0)


@settings(max_examples=25, deadline=None)
@given(
    depth=st.integers(1, 3),
    m=st.integers(0, 3),
    padding=st.sampled_from(["valid", "same"]),
    up_mode=st.sampled_from(["transpose", "bilinear"]),
)
def test_forward_matches_size_arithmetic(depth, m, padding, up_mode):
    model = UNetModel(in_channels=2, num_classes=3, base_channels=2, depth=depth, padding=padding, up_mode=up_mode)
    size = model.valid_input_sizes(1, 400)[m]
    with torch.no_grad():
        out = model(torch.rand(1, 2, size, size + 2**depth))
    assert out.shape == (1, 3, model.output_size(size), model.output_size(size + 2**depth))


def test_invalid_size_names_nearest(paper_unet):
    with pytest.raises(ValueError, match="Use 556 or 572"):
        paper_unet(torch.rand(1, 1, 570, 570))
    with pytest.raises(ValueError, match="width 571"):
        paper_unet(torch.rand(1, 1, 572, 571))
    with pytest.raises(ValueError, match="Use 188"):
        paper_unet.output_size(100)


@pytest.mark.parametrize(
    "x, error, match",
    [
        (torch.rand(1, 3, 188, 188), ValueError, "takes in_channels=1"),
        (torch.rand(1, 188, 188), ValueError, "4-D.*unsqueeze"),
        (torch.randint(0, 255, (1, 1, 188, 188)), TypeError, "floating-point"),
    ],
)
def test_bad_input_is_named(paper_unet, x, error, match):
    with pytest.raises(error, match=match):
        paper_unet(x)


def test_bad_config():
    with pytest.raises(ValueError, match="padding"):
        UNetModel(padding="full")
    with pytest.raises(ValueError, match="up mode"):
        UNetModel(up_mode="magic")
    with pytest.raises(ValueError, match="dropout"):
        UNetModel(dropout=1.5)


def test_config_round_trip():
    model = UNetModel(base_channels=8, depth=2, batch_norm=True, dropout=0.5)
    again = UNetModel(**model.config)
    assert again.config == model.config
    assert again.state_dict().keys() == model.state_dict().keys()


def _field_sizes(model: UNetModel, input_size: int, rows) -> list[int]:
    return [last - first + 1 for first, last in receptive_field(model, input_size, rows)]


def test_receptive_field_of_the_paper_network():
    """188 or 204 input rows, by position in the 16-row pooling grid; never input − output + 1 = 185."""
    with torch.device("meta"):
        paper = UNetModel()
    field = receptive_field(paper, 572, rows=list(range(176, 200)))
    sizes = [last - first + 1 for first, last in field]
    assert sizes == [188] * 4 + [204] * 12 + [188] * 4 + [204] * 4
    assert field[16:20] == [(192, 379)] * 4  # output rows 192–195: the centre of the 388 rows
    assert len({first for first, _ in field[:16]}) == 1, "16 neighbouring rows start their window at one input row"


def test_receptive_field_is_measured_from_the_gradient_of_the_real_layers():
    """The real network (max pooling, random weights) never sees outside the probe's window, and fills it here."""
    torch.manual_seed(0)
    model = UNetModel(base_channels=8, depth=2).double()
    seen = torch.zeros(60, dtype=torch.bool)
    for _ in range(4):  # each random input shows the pixels that won their poolings; together they fill the window
        x = torch.rand(1, 1, 60, 60, dtype=torch.float64, requires_grad=True)
        model(x)[0, 1, 6, 6].backward()
        seen |= x.grad[0, 0].abs().sum(dim=1) > 0
    rows = torch.nonzero(seen).flatten()
    assert (int(rows[0]), int(rows[-1])) == receptive_field(model, 60, rows=[6])[0]


def test_receptive_field_without_pooling_is_input_minus_output_plus_one():
    """Depth 0 is a plain stack of convolutions: there, and only there, the naive rule holds."""
    assert set(_field_sizes(UNetModel(depth=0, base_channels=2), 20, None)) == {20 - 16 + 1}
    assert set(_field_sizes(UNetModel(depth=1, base_channels=2), 22, None)) == {18} != {22 - 6 + 1}
