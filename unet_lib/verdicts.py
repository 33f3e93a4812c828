"""Verdicts computed from numbers: better, worse, or within noise (notebooks 08–11, ``train``, ``doctor``).

A sentence such as "four rotations close the gap" is a claim about measured numbers, and those numbers change
with the processor, the precision and the seed. So the course never writes such a sentence by hand: the cell
that measures prints it, from the numbers, with this one rule:

    a difference counts only when it is larger than the measured spread; otherwise it is "within noise".

The spread is what the same measurement gives when repeated (other seeds, other runs, other slices); pass the
largest spread that applies. A tie, and a difference too small to show at the printed digits, is always "within
noise", whatever the spread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing ``candidate`` with ``reference`` on one measure, and the sentence that says it."""

    measure: str
    candidate_name: str
    candidate: float
    reference_name: str
    reference: float
    spread: float
    higher_is_better: bool
    digits: int = 3
    measured_once: str = ""
    """What was measured only once, when the spread comes from a single pair ("image"): then no spread was
    measured, and the sentence says the verdict rests on that one measurement; empty otherwise."""

    @property
    def difference(self) -> float:
        """``candidate - reference``, in the measure's own units."""
        return self.candidate - self.reference

    @property
    def outcome(self) -> str:
        """``"better"``, ``"worse"`` or ``"within noise"`` for the candidate."""
        if abs(self.difference) <= max(self.spread, self.resolution):
            return "within noise"
        gained = self.difference > 0 if self.higher_is_better else self.difference < 0
        return "better" if gained else "worse"

    @property
    def resolution(self) -> float:
        """Half a unit of the last printed digit: a difference the sentence cannot show is never a verdict (with a
        single measurement the spread is 0, and 0.99301 vs 0.99298 would otherwise read "better")."""
        return 0.5 * 10.0**-self.digits

    @property
    def beyond_noise(self) -> bool:
        return self.outcome != "within noise"

    def _number(self, value: float, digits: int | None = None) -> str:
        return f"{value:.{self.digits if digits is None else digits}f}"

    def _shown_digits(self) -> int:
        """Digits that show the difference and the spread as the rule saw them: a difference just beyond the spread
        must not print as "0.002 higher, beyond the spread of 0.002", so digits are added (up to three) until the
        two printed numbers differ, until a spread that is not zero stops printing as zero, and, when the two means
        print differently ("0.917 vs 0.916"), until the difference stops printing as zero (notebook 10)."""
        size, spread = abs(self.difference), self.spread
        means_differ = self._number(self.candidate) != self._number(self.reference)
        for digits in range(self.digits, self.digits + 4):
            shown_size, shown_spread = self._number(size, digits), self._number(spread, digits)
            size_shown = not means_differ or float(shown_size) > 0
            if size == spread or (
                shown_size != shown_spread and (spread == 0 or float(shown_spread) > 0) and size_shown
            ):
                return digits
        return self.digits + 3

    def sentence(self) -> str:
        """E.g. "4 rotations vs one view, mean Rand error 0.025 vs 0.024: within noise (|difference| 0.001 ≤
        spread 0.004)"."""
        head = (
            f"{self.candidate_name} vs {self.reference_name}, {self.measure} "
            f"{self._number(self.candidate)} vs {self._number(self.reference)}: "
        )
        if abs(self.difference) > self.spread and self.outcome == "within noise":  # too small to show
            return (
                head + f"within noise (|difference| below {self._number(self.resolution, self.digits + 1)}, "
                "smaller than the last printed digit)"
            )
        digits = self._shown_digits()
        size, spread = self._number(abs(self.difference), digits), self._number(self.spread, digits)
        once = self.measured_once
        if self.outcome == "within noise":
            if once:
                return head + f"within noise (|difference| {size} on one {once} only; no spread measured)"
            return head + f"within noise (|difference| {size} ≤ spread {spread})"
        direction = "higher" if self.difference > 0 else "lower"
        if once:  # "beyond the spread of 0.0000" would claim a spread nobody measured
            tail = "(no spread to compare it with)"
            return head + f"{self.outcome} — {size} {direction} on one {once} only {tail}"
        return head + f"{self.outcome} — {size} {direction}, beyond the spread of {spread}"

    def __str__(self) -> str:
        return self.sentence()


def compare(
    candidate: float,
    reference: float,
    *,
    spread: float,
    measure: str = "score",
    candidate_name: str = "candidate",
    reference_name: str = "reference",
    higher_is_better: bool = True,
    digits: int = 3,
) -> Verdict:
    """Compare two measured numbers under the noise rule; ``spread`` ≥ 0 is the measured spread of repeats."""
    for name, value in (("candidate", candidate), ("reference", reference), ("spread", spread)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if spread < 0:
        raise ValueError(f"spread must be ≥ 0, got {spread!r}")
    return Verdict(
        measure, candidate_name, float(candidate), reference_name, float(reference), float(spread), higher_is_better,
        digits,
    )  # fmt: skip


def spread(values: Iterable[float]) -> float:
    """The measured spread of repeats of one measurement: largest minus smallest (0 for a single value).

    The range rather than a standard deviation: with the two to five repeats a course can afford, the range is
    what a reader sees in the table, and it is the more cautious of the two.
    """
    numbers = [float(v) for v in values]
    if not numbers:
        raise ValueError("spread needs at least one value")
    return max(numbers) - min(numbers)


def paired(
    candidate: Sequence[float],
    reference: Sequence[float],
    *,
    measure: str = "score",
    candidate_name: str = "candidate",
    reference_name: str = "reference",
    higher_is_better: bool = True,
    digits: int = 4,
    unit: str = "image",
) -> Verdict:
    """Compare two ways of scoring the same images (slices, tiles): their means, under the spread of the per-image
    differences. A way that gains on some images and loses on others is "within noise" (notebook 09). With one
    ``unit`` (image, tile) there is no spread, and the sentence says so rather than "beyond the spread of 0"."""
    if len(candidate) != len(reference) or not candidate:
        raise ValueError("paired needs one reference score per candidate score, and at least one of each")
    differences = [c - r for c, r in zip(candidate, reference, strict=True)]
    verdict = compare(
        sum(candidate) / len(candidate), sum(reference) / len(reference), spread=spread(differences),
        measure=measure, candidate_name=candidate_name, reference_name=reference_name,
        higher_is_better=higher_is_better, digits=digits,
    )  # fmt: skip
    return replace(verdict, measured_once=unit) if len(differences) == 1 else verdict


def above_baseline(
    scores: Sequence[float], baselines: Sequence[float], *, measure: str = "pixel accuracy", unit: str = "image"
) -> Verdict:
    """Whether a model beats the trivial "every pixel is the majority class" answer beyond noise, image by image.

    ``scores[i]`` and ``baselines[i]`` are the model's and the baseline's score on image ``i``; the spread is that
    of the per-image differences, so a model that gains on some images and loses on others is "within noise".
    ``train``, ``evaluate`` and notebook 09 print a note for every model whose verdict is not "better".
    """
    if len(scores) != len(baselines) or not scores:
        raise ValueError("above_baseline needs one baseline score per model score, and at least one of each")
    return paired(
        scores, baselines, measure=measure, candidate_name="model", reference_name="majority-class baseline", unit=unit
    )
