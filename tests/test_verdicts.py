"""The one noise rule behind every printed verdict (unet_lib.verdicts): both orders, a tie, the spread's edge."""

import math

import pytest

from unet_lib import verdicts


def test_both_orders_give_opposite_outcomes_beyond_the_spread() -> None:
    up = verdicts.compare(0.93, 0.90, spread=0.01, measure="pixel accuracy", candidate_name="new", reference_name="old")
    down = verdicts.compare(0.90, 0.93, spread=0.01, measure="pixel accuracy")
    assert (up.outcome, down.outcome) == ("better", "worse")
    assert up.beyond_noise and down.beyond_noise
    assert "new vs old, pixel accuracy 0.930 vs 0.900: better" in up.sentence()
    assert "0.030 higher" in up.sentence() and "0.030 lower" in down.sentence()


def test_lower_is_better_measures_swap_the_words() -> None:
    assert verdicts.compare(0.02, 0.05, spread=0.01, higher_is_better=False).outcome == "better"
    assert verdicts.compare(0.05, 0.02, spread=0.01, higher_is_better=False).outcome == "worse"


def test_a_tie_is_within_noise_even_with_no_spread() -> None:
    tie = verdicts.compare(0.5, 0.5, spread=0.0)
    assert tie.outcome == "within noise" and not tie.beyond_noise
    assert "within noise" in str(tie)


@pytest.mark.parametrize("candidate, reference", [(0.0244, 0.0232), (0.0232, 0.0244)])
def test_a_difference_inside_the_spread_is_within_noise_in_both_orders(candidate: float, reference: float) -> None:
    # Issue 17's first finding: held-out Rand errors 0.0244 vs 0.0232, when seeds spread by 0.002.
    verdict = verdicts.compare(candidate, reference, spread=0.002, higher_is_better=False, digits=4)
    assert verdict.outcome == "within noise"
    assert "|difference| 0.0012 ≤ spread 0.0020" in verdict.sentence()


def test_the_spread_itself_is_still_noise_and_just_above_it_is_not() -> None:
    assert verdicts.compare(0.75, 0.5, spread=0.25).outcome == "within noise"
    assert verdicts.compare(0.75, 0.5, spread=0.2499).outcome == "better"


def test_bad_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="spread"):
        verdicts.compare(1.0, 0.5, spread=-0.1)
    with pytest.raises(ValueError, match="finite"):
        verdicts.compare(math.nan, 0.5, spread=0.1)


def test_spread_is_the_range_of_repeats() -> None:
    assert verdicts.spread([0.9216, 0.9210, 0.9224]) == pytest.approx(0.0014)
    assert verdicts.spread([0.5]) == 0.0
    with pytest.raises(ValueError):
        verdicts.spread([])


def test_a_model_at_the_baseline_is_not_above_it() -> None:
    # Issue 17: three steps of training scored 0.8011 against a 0.801 baseline; per slice it gains and loses.
    at = verdicts.above_baseline([0.8021, 0.7995, 0.8017], [0.8010, 0.8005, 0.8018])
    assert at.outcome == "within noise"
    clear = verdicts.above_baseline([0.92, 0.93, 0.91], [0.80, 0.78, 0.79])
    assert clear.outcome == "better"
    below = verdicts.above_baseline([0.70, 0.71], [0.80, 0.80])
    assert below.outcome == "worse"
    with pytest.raises(ValueError):
        verdicts.above_baseline([0.9], [0.8, 0.7])


def test_paired_scores_use_the_spread_of_their_differences() -> None:
    # the chosen threshold gains on every slice by about the same amount: beyond noise
    steady = verdicts.paired([0.020, 0.030, 0.025], [0.024, 0.034, 0.030], higher_is_better=False, measure="Rand error")
    assert steady.outcome == "better" and steady.spread == pytest.approx(0.001)
    # it gains on some slices and loses on others: within noise, in both orders
    mixed = verdicts.paired([0.020, 0.036], [0.024, 0.030], higher_is_better=False)
    assert mixed.outcome == verdicts.paired([0.024, 0.030], [0.020, 0.036], higher_is_better=False).outcome
    assert mixed.outcome == "within noise"
    with pytest.raises(ValueError):
        verdicts.paired([], [])


def test_a_difference_too_small_to_print_is_within_noise_even_without_a_spread() -> None:
    # Notebook 12, one image: 0.99301 vs 0.99298 printed as "0.9930 vs 0.9930: worse — 0.0000 lower".
    tiny = verdicts.compare(0.99298, 0.99301, spread=0.0, digits=4)
    assert tiny.outcome == "within noise" and "0.9930 vs 0.9930" in tiny.sentence()
    assert verdicts.compare(0.9936, 0.9930, spread=0.0, digits=4).outcome == "better"


def test_the_sentence_shows_a_difference_just_beyond_the_spread_with_the_digits_that_tell_them_apart():
    # Notebook 10 printed "0.002 higher, beyond the spread of 0.002" (difference and spread rounded alike).
    verdict = verdicts.compare(0.932, 0.930, spread=0.00195)
    assert verdict.outcome == "better"
    assert "0.0020 higher, beyond the spread of 0.0019" in verdict.sentence()
    worse = verdicts.compare(0.930, 0.932, spread=0.00195)
    assert "0.0020 lower, beyond the spread of 0.0019" in worse.sentence()
    # a spread that is not zero never prints as zero, and a plain case keeps its digits
    assert "|difference| 0.00002 ≤ spread 0.00003" in verdicts.compare(0.93002, 0.93, spread=0.00003).sentence()
    assert "0.030 higher, beyond the spread of 0.010" in verdicts.compare(0.93, 0.90, spread=0.01).sentence()
    assert "(|difference| 0.000 ≤ spread 0.000)" in verdicts.compare(0.93, 0.93, spread=0.0).sentence()


def test_a_difference_below_the_printed_digits_says_so_instead_of_printing_zeros():
    # Notebook 12 printed "|difference| 0.0000 ≤ spread 0.0000" for 0.99301 vs 0.99298 on one image.
    sentence = verdicts.compare(0.99298, 0.99301, spread=0.0, digits=4).sentence()
    assert "within noise (|difference| below 0.00005, smaller than the last printed digit)" in sentence
    assert "0.0000 ≤" not in sentence


def test_one_image_says_no_spread_was_measured_instead_of_a_spread_of_zero() -> None:
    # Own folders with one held-out image printed "better — 0.1300 higher, beyond the spread of 0.0000".
    one = verdicts.above_baseline([0.93], [0.80])
    assert one.outcome == "better"
    assert "on one image only (no spread to compare it with)" in one.sentence() and "spread of" not in one.sentence()
    tie = verdicts.above_baseline([0.80], [0.80])
    assert tie.outcome == "within noise" and "on one image only; no spread measured" in tie.sentence()
    tiles = verdicts.paired([0.7], [0.8], unit="tile")
    assert tiles.outcome == "worse" and "lower on one tile only" in tiles.sentence()
    # two images measure a spread, and the sentence names it as before
    two = verdicts.above_baseline([0.93, 0.90], [0.80, 0.80])
    assert "beyond the spread of 0.0300" in two.sentence() and not two.measured_once


def test_means_that_print_differently_never_show_a_difference_of_zero():
    # Notebook 10 printed "depth 3 vs baseline, accuracy 0.917 vs 0.916: within noise (|difference| 0.000 ≤ spread
    # 0.004)": the two printed means differ, and the difference the sentence shows must not read as none.
    sentence = verdicts.compare(0.9166, 0.9164, spread=0.004).sentence()
    assert "0.917 vs 0.916" in sentence and "|difference| 0.0002 ≤ spread 0.0040" in sentence
    lower = verdicts.compare(0.0414, 0.0416, spread=0.031, higher_is_better=False).sentence()
    assert "0.041 vs 0.042" in lower and "|difference| 0.0002 ≤ spread 0.0310" in lower
    # means that print alike keep the plain digits, zero difference included
    assert "(|difference| 0.000 ≤ spread 0.004)" in verdicts.compare(0.9162, 0.9161, spread=0.004).sentence()
