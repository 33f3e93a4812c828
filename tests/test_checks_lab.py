"""Checker of notebook 11, section 10: a right answer written here without the library, and each named slip."""

from __future__ import annotations

from unet_lib import checks


def stub(depth):
    raise NotImplementedError("your turn")


def halo_by_levels(depth):
    """Right: 2 px per side per double convolution, times its level's width in input pixels."""
    down = sum(2 * 2**level for level in range(depth))
    return down + 2 * 2**depth + down


def test_check_halo_accepts_a_right_answer():
    assert checks.check_halo(halo_by_levels)
    assert checks.check_halo(lambda depth: 6 * 2**depth - 4)  # the closed form
    assert "92" in checks.check_halo(halo_by_levels).message


def test_check_halo_names_the_slips():
    def both_sides(depth):
        return 2 * halo_by_levels(depth)

    def no_way_up(depth):
        return sum(2 * 2**level for level in range(depth)) + 2 * 2**depth

    def no_bottleneck(depth):
        return 2 * sum(2 * 2**level for level in range(depth))

    def unweighted(depth):
        return 2 * (2 * depth + 1)

    def levels_from_one(depth):
        paths = 2 * sum(2 * 2**level for level in range(1, depth + 1))
        return paths + 2 * 2**depth

    for answer, words in [
        (both_sides, "both sides"),
        (no_way_up, "expansive path"),
        (no_bottleneck, "bottleneck is missing"),
        (unweighted, "at its own level"),
        (levels_from_one, "(4) returned 152, expected 92: your levels start at 1"),
        (lambda depth: halo_by_levels(depth) / 1, "whole numbers"),
        (lambda depth: 92, "halo(1)"),
    ]:
        feedback = checks.check_halo(answer)
        assert not feedback and words in feedback.message, (answer, feedback.message)


def test_check_halo_gives_your_turn_to_a_stub():
    feedback = checks.check_halo(stub)
    assert not feedback and "your turn" in feedback.message and "stub" in feedback.message
