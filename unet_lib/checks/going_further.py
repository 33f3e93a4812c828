"""Checkers of notebook 10: the challenge's V_Rand and V_Info from a table of counts, and scaling efficiency.

The expected values come from ``unet_lib.metrics`` (``rand_scores``, ``info_scores``), fed label images built
from the same table of counts, so the learner's formula and the library's pixel counting meet only in the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import metrics
from .core import Feedback, Mistake, case, check_cases, close, one_number

# -- the tables the exercises use ---------------------------------------------------------------------------


def labels_from_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two label images (one row of pixels) with ``counts[i, j]`` pixels in true cell i + 1 and segment j + 1."""
    counts = np.asarray(counts, dtype=np.int64)
    rows, cols = np.nonzero(counts)
    repeats = counts[rows, cols]
    return np.repeat(rows + 1, repeats)[None], np.repeat(cols + 1, repeats)[None]


def _library(score: str, counts: np.ndarray) -> float:
    """V_Rand or V_Info of the table, computed by ``unet_lib.metrics`` from pixels."""
    true, pred = labels_from_counts(counts)
    scores = metrics.rand_scores(true, pred) if score == "v_rand" else metrics.info_scores(true, pred)
    return scores[score]


def _tables() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(10)
    return {  # random first: there every slip gives its own wrong number
        "random": rng.integers(0, 9, (5, 6)) * (rng.random((5, 6)) < 0.5),
        "perfect": np.array([[6, 0, 0], [0, 4, 0], [0, 0, 5]]),
        "merge": np.array([[5, 0, 0], [5, 0, 0], [0, 5, 0], [0, 0, 5]]),  # true cells 1 and 2 in one segment
        "split": np.array([[3, 3, 0, 0], [0, 0, 6, 0], [0, 0, 0, 6]]),  # true cell 1 in two segments
    }


_LABELS = {
    "perfect": "a 3 × 3 table: every true cell is one segment",
    "merge": "a 4 × 3 table: true cells 1 and 2 merged into one segment",
    "split": "a 3 × 4 table: true cell 1 split into two segments",
    "random": "a 5 × 6 table of random counts",
}


def _cases(score: str) -> list:
    tables = _tables()
    return [case(t, expected=_library(score, t), label=_LABELS[name]) for name, t in tables.items()]


def _without_zero(score: str, rows: bool, columns: bool) -> Callable[[Any], float | None]:
    """The slip "index 0 is the background": the score of the table without its row 0 and/or its column 0."""

    def gives(counts: Any) -> float | None:
        table = np.asarray(counts)[int(rows) :, int(columns) :]
        return _library(score, table) if table.sum() > 0 else None

    return gives


def _zero_kept(score: str) -> list[Mistake]:
    """Row 0, column 0 or both left out, each named: every row is a true cell, every column a segment."""
    says = (
        "you left out row 0 or column 0 of the table: here index 0 is a true cell and a segment like the others "
        "(the membrane is already left out of the table), so keep them."
    )
    return [
        Mistake(gives=_without_zero(score, *drop), says=says) for drop in ((True, True), (True, False), (False, True))
    ]


def _sums(counts: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = np.asarray(counts, dtype=np.float64)
    return counts, counts.sum(axis=1), counts.sum(axis=0)


# -- notebook 10, exercise 1: V_Rand --------------------------------------------------------------------------


def _split_score(counts: Any) -> float:
    c, a, _ = _sums(counts)
    return float((c * c).sum() / (a @ a))


def _merge_score(counts: Any) -> float:
    c, _, b = _sums(counts)
    return float((c * c).sum() / (b @ b))


def _distinct_pairs(counts: Any) -> float:
    c, a, b = _sums(counts)
    return float(2 * (c * (c - 1)).sum() / ((a * (a - 1)).sum() + (b * (b - 1)).sum()))


_V_RAND_MISTAKES = [
    Mistake(
        gives=lambda counts: 1 - _library("v_rand", counts),
        says="that is 1 − V_Rand, a Rand *error*; V_Rand is the score, 1 for a perfect segmentation.",
    ),
    Mistake(
        gives=_split_score,
        says="that is the split score Σc² / Σa² alone (a = row sums, the true cells); V_Rand is the harmonic mean "
        "of the split and the merge score: 2 Σc² / (Σa² + Σb²).",
    ),
    Mistake(
        gives=_merge_score,
        says="that is the merge score Σc² / Σb² alone (b = column sums, the segments); V_Rand is the harmonic mean "
        "of the split and the merge score: 2 Σc² / (Σa² + Σb²).",
    ),
    Mistake(
        gives=lambda counts: (_split_score(counts) + _merge_score(counts)) / 2,
        says="that is the arithmetic mean of the split and merge scores; V_Rand is their harmonic mean, "
        "2 Σc² / (Σa² + Σb²).",
    ),
    Mistake(
        gives=_distinct_pairs,
        says="that counts pairs of *distinct* pixels, c(c − 1), as scikit-image's adapted_rand_error does; the "
        "challenge counts every ordered pair, a pixel with itself included: square the counts.",
    ),
    Mistake(
        gives=lambda counts: (lambda c, a, b: float(2 * (c * c).sum() / (a.sum() ** 2 + b.sum() ** 2)))(*_sums(counts)),
        says="you squared the *sums* (Σa)² and (Σb)²; V_Rand needs the sums of *squares*: Σa² = Σ_i a_i², "
        "Σb² = Σ_j b_j².",
    ),
    Mistake(
        gives=lambda counts: (lambda c, a, b: float(2 * c.sum() ** 2 / ((a * a).sum() + (b * b).sum())))(
            *_sums(counts)
        ),
        says="you squared the sum of the counts, (Σc)²; the numerator is the sum of squares Σ c_ij², every cell of "
        "the table squared on its own.",
    ),
    Mistake(
        gives=lambda counts: 1.0,
        says="1.0 for an imperfect table: square the counts (Σc², Σa², Σb²); without squares every table scores 1.",
    ),
    Mistake(
        gives=lambda counts: _library("v_rand", counts) / 2,
        says="exactly half the answer: the factor 2 is missing. V_Rand = 2 Σc² / (Σa² + Σb²), the harmonic mean "
        "of the split and the merge score, 1 for a perfect table.",
    ),
    *_zero_kept("v_rand"),
]


def check_v_rand(v_rand: Callable[[np.ndarray], float]) -> Feedback:
    """Notebook 10, exercise 1: ``v_rand(counts)`` = 2 Σc² / (Σa² + Σb²) of a table of pixel counts.

    Named slips: 1 − the score, the split or the merge score alone, their arithmetic mean, pairs of distinct
    pixels (scikit-image's convention), no squares, the factor 2 left out, and row or column 0 left out.
    """
    merge = _library("v_rand", _tables()["merge"])
    return check_cases(
        "v_rand",
        v_rand,
        _cases("v_rand"),
        _V_RAND_MISTAKES,
        success=f"V_Rand is 1 for a perfect table and {merge:.3f} when two of four cells merge — "
        "the harmonic mean of the split and the merge score.",
        rule="V_Rand = 2 Σ c_ij² / (Σ a_i² + Σ b_j²), a = row sums (true cells), b = column sums (segments).",
        returns=one_number,
        same=close(1e-9),
    )


# -- notebook 10, exercise 2: V_Info ---------------------------------------------------------------------------


def _plogp(values: np.ndarray) -> float:
    values = values[values > 0]
    return float(-(values * np.log(values)).sum())


def _entropies(counts: Any, normalise: bool = True) -> tuple[float, float, float]:
    """H(T), H(S), H(S, T) of the table (nats)."""
    c, a, b = _sums(counts)
    n = c.sum() if normalise else 1.0
    return _plogp(a / n), _plogp(b / n), _plogp(c.ravel() / n)


def _mutual_information(counts: Any) -> float:
    h_true, h_pred, h_both = _entropies(counts)
    return h_true + h_pred - h_both


def _variation_of_information(counts: Any) -> float:
    h_true, h_pred, h_both = _entropies(counts)
    return 2 * h_both - h_true - h_pred


def _over(counts: Any, which: str) -> float | None:
    h_true, h_pred, _ = _entropies(counts)
    bottom = h_true if which == "true" else h_pred
    return _mutual_information(counts) / bottom if bottom > 0 else None


def _unnormalised(counts: Any) -> float | None:
    h_true, h_pred, h_both = _entropies(counts, normalise=False)
    total = h_true + h_pred
    return 2 * (h_true + h_pred - h_both) / total if total else None


_V_INFO_MISTAKES = [
    Mistake(
        gives=lambda counts: 1 - _library("v_info", counts),
        says="that is 1 − V_Info; V_Info is the score, 1 for a perfect segmentation.",
    ),
    Mistake(
        gives=_mutual_information,
        says="that is the mutual information I(S; T) itself, in nats; V_Info divides it by the mean entropy: "
        "2 I / (H(S) + H(T)).",
    ),
    Mistake(
        gives=lambda counts: _mutual_information(counts) / np.log(2),
        says="that is the mutual information I(S; T) itself, in bits; V_Info divides it by the mean entropy: "
        "2 I / (H(S) + H(T)).",
    ),
    Mistake(
        gives=_variation_of_information,
        says="that is the variation of information H(S|T) + H(T|S), a distance (0 is perfect); V_Info is "
        "2 I / (H(S) + H(T)), a score (1 is perfect).",
    ),
    Mistake(
        gives=lambda counts: _over(counts, "true"),
        says="that is I / H(T), the merge score alone; V_Info is the harmonic mean of I / H(T) and I / H(S).",
    ),
    Mistake(
        gives=lambda counts: _over(counts, "segmentation"),
        says="that is I / H(S), the split score alone; V_Info is the harmonic mean of I / H(T) and I / H(S).",
    ),
    Mistake(
        gives=_unnormalised,
        says="the entropies come from the raw counts: divide the table by its total first (p_ij = c_ij / n), "
        "then H = −Σ p log p.",
    ),
    Mistake(
        gives=lambda counts: _library("v_info", counts) / 2,
        says="exactly half the answer: the factor 2 is missing. V_Info = 2 I / (H(S) + H(T)), the mutual "
        "information over the *mean* entropy, 1 for a perfect table.",
    ),
    Mistake(
        when=lambda got, counts: math.isnan(float(got)) and bool((np.asarray(counts) == 0).any()),
        says="nan comes from 0 · log 0: the table has empty cells (c_ij = 0), and in NumPy 0 · log 0 = 0 · (−inf) = "
        "nan. Skip the zero probabilities — their term p log p is 0 — e.g. q = q[q > 0] before −Σ q log q.",
    ),
    *_zero_kept("v_info"),
]


def check_v_info(v_info: Callable[[np.ndarray], float]) -> Feedback:
    """Notebook 10, exercise 2: ``v_info(counts)`` = 2 I(S; T) / (H(S) + H(T)) of a table of pixel counts.

    The expected values come from ``unet_lib.metrics.info_scores``; a table whose truth is a single cell (no
    entropy) scores 0, as in the challenge's script. Named slips: 1 − the score, I itself, the variation of
    information, I over one of the entropies, entropies of raw counts, the factor 2 left out, the nan of
    0 · log 0 from empty cells of the table, and row or column 0 left out.
    """
    single = np.array([[8]])  # one true cell, one segment: H(T) = H(S) = 0, and 2 I / (H(S) + H(T)) = 0 / 0
    cases = _cases("v_info") + [
        case(
            single,
            expected=0.0,
            label="a 1 × 1 table: a single cell",
            note="one cell and one segment have no entropy, so 2 I / (H(S) + H(T)) is 0 / 0: return 0.0 when an "
            "entropy is 0, as the challenge's script does",
        )
    ]
    merge = _library("v_info", _tables()["merge"])
    return check_cases(
        "v_info",
        v_info,
        cases,
        _V_INFO_MISTAKES,
        success=f"V_Info is 1 for a perfect table and {merge:.3f} when two of four cells merge (6/7 for four equal "
        "cells) — mutual information over the mean entropy.",
        rule="V_Info = 2 I / (H(S) + H(T)) with p_ij = c_ij / n, I = H(S) + H(T) − H(S, T), H = −Σ p log p.",
        returns=one_number,
        same=close(1e-9),
    )


# -- notebook 10, exercise 3: how well do several processes use several cores? ---------------------------------

_EFFICIENCY_MISTAKES = [
    Mistake(
        gives=lambda one, many, processes: many / one,
        says="that is the speed-up; the efficiency divides it by the number of processes (1.0 = perfect scaling).",
    ),
    Mistake(
        gives=lambda one, many, processes: one * processes / many,
        says="the ratio is upside down: tiles per second with all processes over processes × the rate of one.",
    ),
    Mistake(
        gives=lambda one, many, processes: many / (one * processes) * 100,
        says="that is a percentage; return the fraction (1.0 = perfect scaling).",
    ),
]


def check_scaling_efficiency(scaling_efficiency: Callable[[float, float, int], float]) -> Feedback:
    """Notebook 10, exercise 3: ``scaling_efficiency(one, many, processes)`` = many / (processes × one).

    ``one`` and ``many`` are throughputs (tiles per second) of one process and of ``processes`` processes.
    Named slips: the speed-up without dividing by the processes, the ratio upside down, a percentage.
    """
    cases = [
        case(2.0, 4.0, 2, expected=1.0, label="one = 2.0, many = 4.0, processes = 2"),
        case(1.5, 2.4, 2, expected=0.8, label="one = 1.5, many = 2.4, processes = 2"),
        case(1.0, 6.0, 8, expected=0.75, label="one = 1.0, many = 6.0, processes = 8"),
    ]
    return check_cases(
        "scaling_efficiency",
        scaling_efficiency,
        cases,
        _EFFICIENCY_MISTAKES,
        success="0.8 means that 2 processes do the work of 1.6: the rest goes to waiting and talking.",
        rule="efficiency = many / (processes × one): the share of perfect scaling that the processes reach.",
        returns=one_number,
        same=close(1e-9),
    )
