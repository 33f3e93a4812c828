"""The shared checker skeleton (``unet_lib.checks.core``): cases, typical mistakes, the type checks, safe calls."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from checker_answers import assert_passed, assert_rejected, crashes, stub

from unet_lib import checks
from unet_lib.checks import core
from unet_lib.checks.core import Mistake, case, check_cases

CASES = [case(3, expected=6), case(10, expected=20), case(0, expected=0)]
MISTAKES = [
    Mistake(gives=lambda n: n + n + 1, says="one too many"),
    Mistake(gives=lambda n: n * n, says="that squares it"),
    Mistake(when=lambda got, n: got < 0, says=lambda got, n: f"{got} is negative"),
]


def check_double(double) -> checks.Feedback:
    return check_cases(
        "double", double, CASES, MISTAKES, success="doubles.", rule="return 2·n.", returns=core.whole_number
    )


def test_a_right_answer_passes_with_the_success_message():
    def twice(n):
        return n + n

    assert_passed(check_double(twice), "doubles.")


def test_the_first_matching_mistake_is_named_with_input_got_and_expected():
    feedback = check_double(lambda n: 2 * n + 1)
    assert feedback.message == "double(3) returned 7, expected 6: one too many"


def test_a_mistake_that_the_passed_cases_rule_out_is_not_named():
    """n·n is wrong for 1: an answer that passed 1 cannot be "squaring", even if it gives 3·3 for 3."""
    cases = [case(1, expected=2), case(3, expected=6)]
    square = Mistake(gives=lambda n: n * n, says="that squares it")
    feedback = check_cases("double", lambda n: 9 if n == 3 else 2 * n, cases, [square], success="", rule="2·n")
    assert_rejected(feedback, "double(3) returned 9, expected 6: 2·n")
    first = check_cases("double", lambda n: n * n, [case(3, expected=6)], [square], success="", rule="2·n")
    assert_rejected(first, "squares")


def test_a_slip_that_gives_the_right_value_on_a_case_is_not_named_there():
    cases = [case(2, expected=4), case(5, expected=10)]
    square = Mistake(gives=lambda n: n * n, says="that squares it")
    feedback = check_cases("double", lambda n: 11 if n == 5 else 4, cases, [square], success="", rule="2·n")
    assert_rejected(feedback, "double(5) returned 11, expected 10: 2·n")


def test_when_mistakes_test_the_result_itself():
    assert_rejected(check_double(lambda n: -n), "double(3) returned -3, expected 6: -3 is negative")


def test_no_matching_mistake_gives_the_rule_or_the_cases_note():
    assert_rejected(check_double(lambda n: 2 * n if n < 10 else 5), "double(10) returned 5, expected 20: return 2·n.")
    noted = [case(4, expected=8, note="four doubled is eight")]
    feedback = check_cases("double", lambda n: 7, noted, success="", rule="return 2·n.")
    assert_rejected(feedback, "four doubled is eight")


def test_the_type_check_comes_before_the_comparison():
    assert_rejected(check_double(lambda n: n * 2.0), "double(3) returned 6: a float", "//")
    assert_rejected(check_double(lambda n: str(2 * n)), "returned '6'", "whole number")
    assert_rejected(check_double(lambda n: True), "a bool")


def test_a_stub_gets_your_turn_naming_the_learners_function():
    def my_double(n):
        raise NotImplementedError("Your turn")

    assert check_double(my_double) == checks.your_turn("my_double")
    assert check_double(stub).message.startswith("your turn — fill in `stub`")
    assert "fill in `double`" in check_double(lambda n: stub()).message  # a lambda has no name of its own


def test_a_crash_names_the_error_and_the_input():
    assert_rejected(check_double(crashes), "`crashes` raised ZeroDivisionError: division by zero (on crashes(3))")
    feedback = check_cases("f", crashes, [case(1, expected=1, label="one")], success="", rule="", on_crash="read x")
    assert feedback.message.endswith("(on crashes(one): read x)")


def test_an_answer_may_not_change_the_cases_inputs():
    """The cases keep their inputs whatever the answer does, and an answer that overwrites its input is told: in a
    notebook the caller's array would be gone (a right value does not excuse it)."""
    image = np.arange(4.0)
    cases = [case(image, expected=6.0), case(image, expected=6.0)]

    def sums_and_clobbers(values):
        total = float(values.sum())
        values[:] = 0
        return total

    def total(values, scale=1.0):
        return float(values.sum()) * scale

    clobbered = check_cases("total", sums_and_clobbers, cases, success="ok", rule="", same=core.close(1e-9))
    assert_rejected(clobbered, "sums_and_clobbers(a (4,) float64 array) changed its input `values` in place")
    assert image.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert_passed(check_cases("total", total, cases, success="ok", rule="", same=core.close(1e-9)))
    by_keyword = [case(2.0, values=torch.ones(2, 3), expected=12.0)]

    def scales_in_place(scale, values):
        values.mul_(scale)
        return float(values.sum())

    assert_rejected(check_cases("total", scales_in_place, by_keyword, success="", rule=""), "`values` in place")


def test_an_odd_result_cannot_crash_the_checker():
    cases = [case(1, expected=np.arange(3.0))]
    shape_slip = Mistake(when=lambda got, n: got.shape == (2,), says="two")  # an int has no .shape
    for odd in (None, "text", [1, 2], object(), {1: 2}):
        feedback = check_cases(
            "f", lambda n, odd=odd: odd, cases, [shape_slip], success="", rule="r", same=core.same_values()
        )
        assert not feedback.passed


@pytest.mark.parametrize(
    "value, shown",
    [
        (31030658, "31,030,658"),
        (0.08561, "0.0856"),
        (2000.0, "2000"),
        (float("nan"), "nan"),
        (True, "True"),
        (torch.zeros(1, 1, 5, 7), "a (1, 1, 5, 7) float32 tensor"),
        (np.zeros((5, 6), np.uint8), "a (5, 6) uint8 array"),
        (torch.tensor(1.5), "tensor(1.5)"),
        ("0.5", "'0.5'"),
    ],
)
def test_values_are_shown_briefly(value, shown):
    assert core.show(value) == shown


def test_arrays_differ_by_shape_or_by_their_first_differing_pixel():
    expected = np.arange(6.0).reshape(2, 3)
    assert core.difference(np.zeros((3, 2)), expected) == "returned shape (3, 2), expected (2, 3)"
    changed = expected.copy()
    changed[1, 0] = 9
    assert core.difference(changed, expected) == (
        "returned the right shape (2, 3), but the value at (1, 0) is 9, expected 3"
    )
    assert core.difference(0.5, 0.25) == "returned 0.5, expected 0.25"
    # two numbers within 1 % get the same decimals, enough to differ: not "returned 0.36, expected 0.3595"
    assert core.difference(0.36, np.float64(0.3595)) == "returned 0.3600, expected 0.3595"
    assert core.difference(0.123456, 0.123457) == "returned 0.123456, expected 0.123457"
    assert (
        core.difference(expected + 1e-7, expected) == "returned the right shape (2, 3), but values off by up to 1.0e-07"
    )
    assert core.difference(np.array([1.0, 2.0]), np.array([1.0, 3.0])).endswith("value at 1 is 2, expected 3")


def test_one_number_accepts_scalars_and_one_element_tensors_only():
    for value in (1, 0.5, np.float64(0.5), np.array(0.5), torch.tensor(0.5), torch.tensor([0.5])):
        assert core.one_number(value) is None, value
    for value in ("0.5", None, [0.5], np.ones(2), torch.ones(2), True):
        assert core.one_number(value), value


def test_name_of_prefers_the_learners_name():
    def my_train_step():
        pass

    assert core.name_of(my_train_step, "train_step") == "my_train_step"
    assert core.name_of(lambda: None, "train_step") == "train_step"
    assert core.name_of(torch.nn.MaxPool2d(2), "max_pool_2x2") == "max_pool_2x2"


def test_a_mistake_needs_gives_or_when():
    with pytest.raises(TypeError, match="gives` or `when"):
        Mistake(says="?").matches(1, case(1, expected=2), core.equal)


# -- every checker, as the student notebooks call it ----------------------------------------------------

STUDENT = Path(__file__).resolve().parents[1] / "notebooks" / "student"
STUB = re.compile(r'raise NotImplementedError\("Your turn: complete `([\w.]+)`')


def _stubs_and_checks() -> list[tuple[str, str, str, str]]:
    """(notebook, stub cell, the check call after it, the name its stub asks for) for every student exercise."""
    found = []
    for path in sorted(STUDENT.glob("[0-9][0-9]_*.ipynb")):
        cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        for index, source in enumerate(cells):
            match = STUB.search(source)
            if match:
                call = next(line for line in cells[index + 1].splitlines() if "checks.check_" in line)
                found.append((path.name, source, call, match.group(1)))
    return found


STUBS = _stubs_and_checks()


def test_every_student_exercise_is_found():
    assert len(STUBS) >= 24 and {name for _, _, _, name in STUBS} >= {"my_train_step", "FixedNet.__init__"}


@pytest.mark.parametrize("notebook, stub_cell, check_call, name", STUBS, ids=[f"{s[0][:2]}-{s[3]}" for s in STUBS])
def test_a_student_stub_gets_your_turn_naming_the_notebooks_function(notebook, stub_cell, check_call, name):
    """Issue 12: the message names the function the learner actually has (notebook 08's `my_train_step`)."""
    namespace = {"np": np, "torch": torch, "nn": torch.nn, "Tensor": torch.Tensor, "checks": checks}
    exec(stub_cell, namespace)
    feedback = eval(check_call, namespace)
    assert feedback == checks.your_turn(name), f"{notebook}: {check_call} said {feedback!r}"


def test_integer_division_is_named_where_a_fraction_was_expected():
    """`//` turns 3/4 into 0: the message names the operator, whichever mistakes the checker lists."""
    cases = [case(3, 4, expected=0.75)]
    zero = Mistake(gives=lambda a, b: 0.0, says="nothing counted")
    feedback = check_cases(
        "share", lambda a, b: a // b, cases, [zero], success="", rule="a / b", returns=core.one_number
    )
    assert_rejected(feedback, "returned 0, expected 0.75", "`//` rounds", "divide with `/`")
    assert_rejected(check_cases("share", lambda a, b: 0.0, cases, [zero], success="", rule="a / b"), "nothing counted")


def test_integer_division_of_floats_is_named_when_the_source_uses_it():
    """`2.4 // 3.0` is 0.0, a float: named as `//` only when the learner's code holds `//`, since a float 0.0 has
    other causes too."""
    cases = [case(2.4, 3.0, expected=0.8)]

    def share(a, b):
        return a // b

    def share_of_tensors(a, b):
        quotient = torch.tensor(a)
        quotient //= b
        return quotient

    for answer in (share, share_of_tensors):
        feedback = check_cases("share", answer, cases, success="", rule="a / b", returns=core.one_number)
        assert_rejected(feedback, "`//` rounds", "divide with `/`")
    assert_rejected(check_cases("share", lambda a, b: 0.0, cases, success="", rule="a / b"), "a / b")
    assert "`//`" not in check_cases("share", lambda a, b: 0.0, cases, success="", rule="a / b").message
    assert not core.floor_divides(print) and core.floor_divides(share) and not core.floor_divides(lambda a: a / 2)


def test_a_fraction_rounded_before_it_is_returned_is_named():
    cases = [case(2, 3, expected=2 / 3)]
    for answer in (lambda a, b: round(a / b, 3), lambda a, b: torch.tensor(round(a / b, 2), dtype=torch.float64)):
        feedback = check_cases("share", answer, cases, success="", rule="a / b", returns=core.one_number)
        assert_rejected(feedback, "close, but rounded")
    assert_rejected(check_cases("share", lambda a, b: 0.6, cases, success="", rule="a / b"), "expected 0.6667: a / b")
