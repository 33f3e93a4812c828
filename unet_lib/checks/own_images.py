"""Checkers of notebook 11 (your own images): colour-coded masks, object scores, the size of nuclei.

Each one tries the learner's function on small hand-made label images whose answers can be worked out
on paper, and names the usual slip: averaged colours, the first colour of a mask without black taken for
background, objects matched on any overlap or more than once, the background counted as an object, missing
object numbers counted as objects, an area where a diameter was asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..images import colour_mask_to_instances
from ..objects import iou_matrix, match_objects, median_diameter, object_scores, scores_from_counts
from .core import Feedback, attempt_on_copies, name_of, rounded

# -- exercise 1: a colour-coded mask ----------------------------------------------------------------

_COLOURS = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "gray": (85, 85, 85),
    "dark green": (0, 130, 0),
}
"""Red, green, blue and gray have the same mean brightness (85): averaging the channels cannot tell them apart.
Dark green has red's *luminance*: converting to gray as PIL's ``convert("L")`` does (0.299 R + 0.587 G + 0.114 B)
makes both 76."""


def _colour_mask() -> np.ndarray:
    """A 6 × 12 black mask with one 2 × 2 object per colour of ``_COLOURS``, two of them touching."""
    mask = np.zeros((6, 12, 3), np.uint8)
    for (top, left), colour in zip([(1, 1), (1, 3), (3, 7), (3, 10), (4, 1)], _COLOURS.values()):
        mask[top : top + 2, left : left + 2] = colour
    return mask


def _listed(names: list[str]) -> str:
    """``"red"``, ``"red and green"``, ``"red, green and blue"``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _same_partition(labels: np.ndarray, expected: np.ndarray) -> bool:
    """True when ``labels`` groups the pixels exactly as ``expected`` does, whatever the numbers."""
    pairs = np.unique(np.stack([labels.ravel(), expected.ravel()]), axis=1)
    return len(pairs.T) == len(np.unique(labels)) == len(np.unique(expected))


def _colour_problem(mask: np.ndarray, result: Any) -> str | None:
    expected = colour_mask_to_instances(mask)
    if not isinstance(result, np.ndarray):
        return f"return a NumPy array, got {type(result).__name__}."
    if result.shape != mask.shape[:2]:
        return (
            f"for a {mask.shape} colour mask return one number per pixel, shape {mask.shape[:2]}; got {result.shape}."
        )
    if not np.issubdtype(result.dtype, np.integer):
        return f"instance labels are whole numbers; got dtype {result.dtype} — convert with .astype(np.int32)."
    black = (mask == 0).all(axis=-1)
    if np.any(result[black] != 0):
        return "black (0, 0, 0) is the background and must become 0, not an object."
    merged = [name for name, colour in _COLOURS.items() if name != "red" and _same_number(mask, result, colour)]
    if merged == ["dark green"]:
        return (
            "the red (255, 0, 0) and dark green (0, 130, 0) objects got the same number: converting to gray with "
            'luminance weights (0.299 R + 0.587 G + 0.114 B, as PIL\'s convert("L") does) makes both 76. Any '
            "conversion to one gray value can merge two colours — keep all three channels, e.g. pack them into one "
            "integer per pixel, then number each distinct colour."
        )
    if merged:
        return (
            f"the {_listed(['red', *merged])} objects got the same number: their channels have the same "
            "mean, so averaging (or converting to gray) merges them — keep all three channels, e.g. pack them "
            "into one integer per pixel, then number each distinct colour."
        )
    lost = [name for name, colour in _COLOURS.items() if np.any(result[(mask == colour).all(axis=-1)] == 0)]
    if lost:
        objects = "object" if len(lost) == 1 else "objects"
        return f"the {_listed(lost)} {objects} became background: read all three channels, not one."
    if not _same_partition(result, expected):
        return "each colour must become exactly one number and different colours different numbers."
    return None


def _same_number(mask: np.ndarray, result: np.ndarray, colour: tuple[int, int, int]) -> bool:
    red = result[(mask == _COLOURS["red"]).all(axis=-1)]
    other = result[(mask == colour).all(axis=-1)]
    return bool(red.size and other.size and red[0] != 0 and red[0] == other[0])


def _mask_without_black() -> np.ndarray:
    """A 4 × 6 mask with no black pixel: red, green and blue objects fill it (a crop inside a tissue, say)."""
    mask = np.zeros((4, 6, 3), np.uint8)
    mask[:, :2], mask[:, 2:4], mask[:, 4:] = _COLOURS["red"], _COLOURS["green"], _COLOURS["blue"]
    return mask


def _without_black_problem(mask: np.ndarray, result: Any) -> str | None:
    """What is wrong on a mask with no black pixel: above all an object numbered 0, as if it were background."""
    if isinstance(result, np.ndarray) and result.shape == mask.shape[:2]:
        zero = [name for name, colour in _COLOURS.items() if np.any(result[(mask == colour).all(axis=-1)] == 0)]
        if zero:
            return (
                f"on a mask without any black pixel (red, green and blue objects fill it) the {_listed(zero)} "
                f"{'object' if len(zero) == 1 else 'objects'} became 0, background. np.unique numbers the colours "
                "from 0, and the first colour is black only when the mask has black: here the first colour is an "
                "object, not background — add 1 when the first colour is not black (0)."
            )
    return _colour_problem(mask, result)


def check_colour_to_instances(colour_to_instances: Callable[[np.ndarray], np.ndarray]) -> Feedback:
    """Notebook 11, exercise 1: a colour-coded instance mask → instance labels (black = 0).

    Two masks: five objects on black (colours that averaging or luminance gray would merge), then a mask with
    no black pixel at all, whose first colour is an object, not background.
    """
    name = name_of(colour_to_instances, "colour_to_instances")
    for mask, problem_of in ((_colour_mask(), _colour_problem), (_mask_without_black(), _without_black_problem)):
        result, failed = attempt_on_copies(name, colour_to_instances, mask)
        if failed is not None:
            return failed
        problem = problem_of(mask, result)
        if problem:
            return Feedback(False, problem)
    return Feedback(
        True,
        "red, green, blue and gray (all of mean brightness 85) and dark green (the luminance of red) became five "
        "objects 1–5, and black stayed background 0; in a mask without black every colour is an object.",
    )


# -- exercise 2: objects, not pixels -----------------------------------------------------------------


def _object_case() -> tuple[np.ndarray, np.ndarray]:
    """True objects 1–5 and predicted 1–4 (worked out in ``check_object_scores``'s docstring)."""
    true, pred = np.zeros((14, 24), np.int32), np.zeros((14, 24), np.int32)
    true[1:7, 1:6], true[1:7, 6:10] = 1, 2  # two touching nuclei, 30 and 24 pixels …
    pred[1:7, 1:10] = 1  # … predicted as one blob: IoU 30/54 with the first, 24/54 with the second
    true[1:5, 13:17], pred[1:5, 14:18] = 3, 2  # a nucleus found slightly off: IoU 12/20
    true[8:13, 1:7], pred[9:11, 2:5] = 4, 3  # a nucleus found far too small: IoU 6/30
    pred[10:12, 12:14] = 4  # a speck where there is nothing
    true[8:12, 18:22] = 5  # a nucleus the network missed
    return true, pred


def _tie_case() -> tuple[np.ndarray, np.ndarray]:
    """Two true halves of one predicted object: IoU exactly 0.5 with each, so exactly one may match."""
    true, pred = np.zeros((6, 10), np.int32), np.zeros((6, 10), np.int32)
    true[1:5, 1:4], true[1:5, 4:7] = 1, 2
    pred[1:5, 1:7] = 1
    return true, pred


def _below_half_case() -> tuple[np.ndarray, np.ndarray]:
    """One nucleus found exactly, one found 2 px off: IoU 18/42 = 0.43, no match — though its Dice is 0.6."""
    true, pred = np.zeros((8, 16), np.int32), np.zeros((8, 16), np.int32)
    true[1:4, 1:4], pred[1:4, 1:4] = 1, 1  # found exactly
    true[1:7, 6:11], pred[1:7, 8:13] = 2, 2  # 6 × 5 each, overlapping 6 × 3
    return true, pred


def _below_half_problem(values: tuple[float, float, float], true: np.ndarray, pred: np.ndarray) -> str | None:
    """What is wrong when a pair overlaps with IoU 0.43: above all a match on Dice (IoU ≥ 1/3) or a lower bar."""
    want = _triple(object_scores(true, pred))
    if np.allclose(values, want, atol=1e-6):
        return None
    if np.allclose(values, (1.0, 1.0, 1.0), atol=1e-6):
        return (
            "a nucleus found 2 px off overlaps its prediction with IoU 18/42 = 0.43, below 0.5, so they do not match: "
            "expected precision, recall and F1 0.5. Did you match on the Dice coefficient (2·18/60 = 0.6, and Dice ≥ "
            "0.5 is IoU ≥ 1/3) or with a lower bar? The rule is IoU = |A ∩ B| / |A ∪ B| ≥ 0.5."
        )
    return (
        f"one nucleus found exactly and one with IoU 18/42 = 0.43 (below 0.5: no match) give precision, recall and "
        f"F1 {want[0]:.3f}, {want[1]:.3f}, {want[2]:.3f}; got {values[0]:.3f}, {values[1]:.3f}, {values[2]:.3f}."
    )


def _gap_case() -> tuple[np.ndarray, np.ndarray]:
    """True objects numbered 2, 5 and 9 (not 1, 2, 3), predicted 1, 2, 3: two match, so everything is 2/3."""
    true, pred = np.zeros((6, 14), np.int32), np.zeros((6, 14), np.int32)
    true[1:4, 1:4], pred[1:4, 1:4] = 2, 1  # found exactly
    true[1:5, 5:9], pred[1:5, 6:10] = 5, 2  # found slightly off: IoU 12/20
    true[1:4, 10:13] = 9  # missed …
    pred[4:6, 11:13] = 3  # … and a speck below it
    return true, pred


def _consecutive_problem(values: tuple[float, float, float], true: np.ndarray, pred: np.ndarray) -> str | None:
    """What is wrong when object numbers have gaps; above all ``range(1, labels.max() + 1)`` as the objects."""
    want = _triple(object_scores(true, pred))
    if np.allclose(values, want, atol=1e-6):
        return None
    matched = len(match_objects(true, pred))
    gaps = "true" if true.max() > len(np.unique(true)) - 1 else "predicted"
    labels = true if gaps == "true" else pred
    numbers = [int(n) for n in np.unique(labels) if n]
    shown = f"{', '.join(map(str, numbers[:-1]))} and {numbers[-1]}"
    counted = _triple(scores_from_counts(matched, int(true.max()), int(pred.max())))
    if np.allclose(values, counted, atol=1e-6):
        score, counted_as = ("recall", "missed objects") if gaps == "true" else ("precision", "false positives")
        missing = int(labels.max()) - len(numbers)
        return (
            f"the object numbers need not be consecutive: here the {gaps} objects are numbered {shown}, and "
            f"range(1, labels.max() + 1) counts the {missing} numbers that do not occur as {missing} {counted_as}, "
            f"so {score} came out {matched}/{labels.max()} instead of {matched}/{len(numbers)}. Take the numbers "
            "that occur: np.unique(labels), 0 left out."
        )
    return (
        f"with {gaps} objects numbered {shown} (gaps in the numbers) expected precision, recall and F1 "
        f"{want[0]:.3f}, {want[1]:.3f}, {want[2]:.3f}; got {values[0]:.3f}, {values[1]:.3f}, {values[2]:.3f}. "
        "Take the object numbers that occur (np.unique, 0 left out), whatever they are."
    )


def _as_three_floats(result: Any) -> tuple[float, float, float] | None:
    try:
        values = tuple(float(v) for v in result)
    except (TypeError, ValueError):
        return None
    return values if len(values) == 3 else None


def _overlap_scores(true: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Scores when every overlapping pair counts, not one-to-one: the "any overlap is a match" slip."""
    ious = iou_matrix(true, pred)[0]
    found_true, found_pred = int((ious > 0).any(axis=1).sum()), int((ious > 0).any(axis=0).sum())
    precision, recall = found_pred / ious.shape[1], found_true / ious.shape[0]
    return precision, recall, 2 * precision * recall / (precision + recall)


def _pixel_scores(true: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of the object *pixels*: the "pixels instead of objects" slip."""
    t, p = np.asarray(true) > 0, np.asarray(pred) > 0
    both = float((t & p).sum())
    return both / p.sum(), both / t.sum(), 2 * both / (p.sum() + t.sum())


def _triple(scores: dict[str, float]) -> tuple[float, float, float]:
    return scores["precision"], scores["recall"], scores["f1"]


def _scores_problem(values: tuple[float, float, float], true: np.ndarray, pred: np.ndarray) -> str | None:
    """What is wrong with the learner's ``(precision, recall, f1)`` on the main case (None when it is right)."""
    want = _triple(object_scores(true, pred))
    if np.allclose(values, want, atol=1e-6):
        return None
    precision, recall, f1 = values
    slips = [
        (
            (want[1], want[0], want[2]),
            "precision and recall are swapped: precision = matched / predicted objects, "
            "recall = matched / true objects.",
        ),
        (
            (want[0], want[1], (want[0] + want[1]) / 2),
            "F1 is the harmonic mean 2·P·R / (P + R), not the plain mean (P + R) / 2.",
        ),
        (
            _triple(object_scores(true + 1, pred + 1)),
            "the background (label 0) is not an object: leave it out of both images.",
        ),
        (
            _triple(object_scores(true, pred, min_iou=1e-9)),
            "a match needs IoU ≥ 0.5, not just any overlap: the nucleus found far too small (IoU 0.2) does not count.",
        ),
        (
            _pixel_scores(true, pred),
            "those are *pixel* scores (precision and recall of the pixels of all objects together); count objects: "
            "a predicted object is a true positive when it matches a true object at IoU ≥ 0.5.",
        ),
        (
            _overlap_scores(true, pred),
            "a match needs IoU ≥ 0.5, not just any overlap, and each object may match "
            "only once: the blob over two touching nuclei finds one of them at most.",
        ),
    ]
    for slip, message in slips:
        if np.allclose(values, slip, atol=1e-6):
            return message
    return (
        f"got precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}; expected {want[0]:.3f}, {want[1]:.3f}, "
        f"{want[2]:.3f}. Compute the IoU of every (true, predicted) pair, keep pairs with IoU ≥ 0.5, count each "
        "object once."
    )


def _rounded(values: tuple[float, float, float], want: tuple[float, float, float]) -> str | None:
    """Scores that agree only to a few decimals: rounded before they were returned (shown with six decimals, or
    the two would read the same)."""
    exact = [bool(np.isclose(v, w, rtol=0, atol=1e-9)) for v, w in zip(values, want)]
    if all(exact) or not all(e or rounded(float(v), float(w)) for e, v, w in zip(exact, values, want)):
        return None  # right, or off for another reason than rounding (core.rounded: the one test of it)
    shown = ", ".join(f"{v:.6f}" for v in values)
    return (
        f"got {shown}, expected {', '.join(f'{v:.6f}' for v in want)}: close, but rounded — return the scores as "
        "they come out (round them only to print them)."
    )


def _tie_problem(tied: tuple[float, float, float] | None) -> str | None:
    """What is wrong on the tie case: one predicted object equal to two true halves (None when it is right)."""
    if tied is not None and np.allclose(tied, (1.0, 0.5, 2 / 3), atol=1e-6):
        return None
    if tied is not None and np.allclose(tied, (0.0, 0.0, 0.0)):
        return (
            "two true halves of one predicted object have IoU exactly 0.5 with it: the rule is IoU ≥ 0.5, so it "
            "matches one of them (use >=, not >)."
        )
    if tied is not None and tied[1] > 0.5 + 1e-6:
        return (
            "one predicted object matched two true objects (IoU exactly 0.5 with each): matching is one-to-one, "
            "so once an object is matched it is taken — expected precision 1.0, recall 0.5, F1 0.667."
        )
    return f"for one predicted object equal to two true halves expected (1.0, 0.5, 0.667), got {tied!r}."


def check_object_scores(object_precision_recall_f1: Callable[[np.ndarray, np.ndarray], Any]) -> Feedback:
    """Notebook 11, exercise 2: object precision, recall and F1 at IoU ≥ 0.5, one-to-one.

    The main case: true objects 1 and 2 touch and come out as one predicted blob, which matches object 1
    (IoU 30/54 = 0.56) but not 2 (24/54 = 0.44); object 3 is found slightly off (IoU 12/20 = 0.6, a match);
    object 4 is found far too small (6/30 = 0.2, no match); a speck is predicted where there is nothing;
    object 5 is missed. Two matches: precision 2/4, recall 2/5, F1 4/9. Then the tie: one predicted object
    that is exactly two true halves has IoU 0.5 with each, and matches one of them. Then a nucleus found 2 px
    off, IoU 0.43 (Dice 0.6): no match, whatever Dice says. Last, object numbers with
    gaps (2, 5, 9), in the true image and then in the predicted one: the numbers that do not occur are no objects.
    """
    name = name_of(object_precision_recall_f1, "object_precision_recall_f1")
    gaps_true, consecutive_pred = _gap_case()
    cases = [
        (_object_case(), _scores_problem),
        (_tie_case(), None),
        (_below_half_case(), _below_half_problem),
        ((gaps_true, consecutive_pred), _consecutive_problem),
        ((consecutive_pred, gaps_true), _consecutive_problem),
    ]
    for case, problem_of in cases:
        true, pred = case
        result, failed = attempt_on_copies(name, object_precision_recall_f1, true, pred)
        if failed is not None:
            return failed
        values = _as_three_floats(result)
        if values is None:
            return Feedback(False, f"return three numbers (precision, recall, f1), got {result!r}.")
        problem = _rounded(values, _triple(object_scores(true, pred)))
        problem = problem or (problem_of(values, true, pred) if problem_of else _tie_problem(values))
        if problem:
            return Feedback(False, problem)
    return Feedback(
        True,
        "2 of 4 predicted and 2 of 5 true objects match: precision 0.500, recall 0.400, F1 0.444 — the merged "
        "pair costs a nucleus, the one found far too small two mistakes; an IoU of exactly 0.5 matches once; and "
        "objects numbered 2, 5, 9 are three objects.",
    )


# -- exercise 3: how big are the nuclei? ------------------------------------------------------------


def _size_case() -> np.ndarray:
    """Five square objects of 9, 25, 49, 100 and 900 pixels (the last a clump), numbered with gaps."""
    labels = np.zeros((48, 48), np.int32)
    for number, (top, left, side) in zip((2, 3, 5, 8, 9), [(1, 1, 3), (1, 6, 5), (1, 13, 7), (1, 22, 10), (14, 1, 30)]):
        labels[top : top + side, left : left + side] = number
    return labels


def _even_case() -> np.ndarray:
    """Four square objects of 16, 36, 64 and 400 pixels: an even count, whose median is the mean of the middle two."""
    labels = np.zeros((24, 44), np.int32)
    for number, (top, left, side) in enumerate([(1, 1, 4), (1, 6, 6), (1, 13, 8), (2, 22, 20)], start=1):
        labels[top : top + side, left : left + side] = number
    return labels


def _diameter_slip(value: float, labels: np.ndarray) -> str | None:
    """The slip that gives ``value`` on ``_size_case``'s labels, if it is one of the usual ones."""
    areas = np.array([9, 25, 49, 100, 900], float)
    diameters = np.sqrt(4 * areas / np.pi)
    with_background = np.median(np.append(diameters, np.sqrt(4 * (labels == 0).sum() / np.pi)))
    with_gaps = np.median(np.concatenate([diameters, np.zeros(4)]))  # numbers 1, 4, 6, 7 do not occur
    slips = [
        (np.median(areas), "that is the median *area*; the diameter of a circle of area A is √(4·A/π)."),
        (np.median(np.sqrt(areas)), "√area is the side of a square; the diameter of a circle of area A is √(4·A/π)."),
        (
            np.median(diameters) / 2,
            "that is the *radius*, exactly half the answer: the diameter of a circle of area A is √(4·A/π) = 2·√(A/π).",
        ),
        (np.mean(diameters), "that is the mean: use the median, which one clump of merged nuclei cannot pull up."),
        (with_background, "the background (label 0) is not an object: leave it out."),
        (with_gaps, "objects are numbered 2, 3, 5, 8, 9: skip the numbers that do not occur (area 0)."),
    ]
    return next((message for slip, message in slips if np.isclose(value, slip, rtol=1e-6)), None)


def _near_miss(value: float, expected: float) -> str | None:
    """A diameter right but for rounding: the result rounded, or π (shown with six decimals, or the two read the
    same)."""
    shown = f"got {value:.6f}, expected {expected:.6f}"
    if rounded(float(value), float(expected)):
        return f"{shown}: close, but rounded — return the value as it comes out (round it only to print it)."
    if any(np.isclose(value, expected * np.sqrt(np.pi / pi), rtol=1e-9) for pi in (3.14, 3.1416, 22 / 7)):
        return f"{shown}: π rounded — use np.pi (or math.pi)."
    return None


def _median_diameter_problem(
    name: str, answer: Callable[[np.ndarray], float], labels: np.ndarray, even: bool
) -> Feedback | None:
    """The verdict on the learner's answer for ``labels`` (``_even_case`` when ``even``) when it is wrong (None when
    it is right)."""
    result, failed = attempt_on_copies(name, answer, labels)
    if failed is not None:
        return failed
    try:
        value = float(result)
    except (TypeError, ValueError):
        return Feedback(False, f"return one number (the median diameter in pixels), got {result!r}.")
    expected = median_diameter(labels)
    if np.isclose(value, expected, rtol=1e-6):
        return None
    near = _near_miss(value, expected)
    if near:
        return Feedback(False, near)
    if even:
        middle = np.sqrt(4 * np.array([36, 64]) / np.pi)
        if np.isclose(value, middle, rtol=1e-6).any():
            return Feedback(
                False,
                f"got {value:.3f}: with four objects (16, 36, 64 and 400 pixels) the median is the mean of the two "
                f"middle diameters, {middle[0]:.3f} and {middle[1]:.3f} → {expected:.3f}; you took one of them. "
                "np.median does it for any count.",
            )
        if np.isclose(value, np.sqrt(4 * 50 / np.pi), rtol=1e-6):
            return Feedback(
                False,
                f"got {value:.3f}, the diameter of the median *area* ((36 + 64) / 2 = 50 pixels): with four objects "
                "the median averages the middle two, and the mean of two areas is not the area of the mean diameter. "
                f"Take the diameters first, then the median: {expected:.3f}.",
            )
        return Feedback(
            False, f"four objects of 16, 36, 64 and 400 pixels: expected {expected:.3f} px, got {value:.3f}."
        )
    slip = _diameter_slip(value, labels)
    if slip:
        return Feedback(False, f"got {value:.3f}: {slip}")
    return Feedback(False, f"expected {expected:.3f} px (median of √(4·area/π) over the objects), got {value:.3f}.")


def check_median_diameter(my_median_diameter: Callable[[np.ndarray], float]) -> Feedback:
    """Notebook 11, exercise 3: the median equivalent diameter √(4·area/π) of the objects, background left out.

    Five objects (one a clump, numbered with gaps), then four: an even count, whose median is the mean of the
    middle two (the middle element alone is named)."""
    name = name_of(my_median_diameter, "my_median_diameter")
    for labels, even in ((_size_case(), False), (_even_case(), True)):
        problem = _median_diameter_problem(name, my_median_diameter, labels, even)
        if problem is not None:  # a Feedback is falsy when it fails, so test for None
            return problem
    expected = median_diameter(_size_case())
    return Feedback(
        True,
        f"the middle object has 49 pixels, so the median diameter is √(4·49/π) = {expected:.2f} px; "
        "the 900-pixel clump does not move it.",
    )
