"""What every exercise checker shares: the verdict, a safe call of the learner's code, and one checker skeleton.

Most exercises ask for a function, and their checkers all do the same thing: call the learner's
function on a few inputs, compare with the answer worked out independently, and when the two differ
name the mistake that explains the difference. ``check_cases`` is that loop, written once. A checker
gives it two tables:

* ``Case`` — one input and the value expected for it (computed from PyTorch, NumPy or ``unet_lib``,
  never from the learner's code);
* ``Mistake`` — a typical slip: the wrong answer it produces (``gives``, a function with the same
  arguments as the learner's) or a test of the learner's result (``when``), and the sentence that
  names it (``says``).

Checkers of another shape (a module, a training step, a file written to disk) stay bespoke but use
``attempt`` and the same message style: *what* was called, what came back, what was expected, why.
"""

from __future__ import annotations

import copy
import inspect
import math
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

# -- the verdict and the safe call ------------------------------------------------------------


@dataclass
class Feedback:
    """The verdict on one exercise: ``passed`` and a message a learner can act on."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return ("✅ Correct! " if self.passed else "❌ Not yet: ") + self.message


def your_turn(exercise: str) -> Feedback:
    """The answer to a stub still raising ``NotImplementedError``: not a failure, a reminder of what to fill in."""
    return Feedback(
        False, f"your turn — fill in `{exercise}` where it says NotImplementedError, then run this cell again."
    )


def attempt(exercise: str, answer: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Feedback | None]:
    """Call the learner's ``answer``; turn a stub or a crash into feedback instead of a traceback."""
    try:
        return answer(*args, **kwargs), None
    except NotImplementedError:
        return None, your_turn(exercise)
    except Exception as error:  # the learner's code crashed: say how
        return None, Feedback(False, f"`{exercise}` raised {type(error).__name__}: {error}")


def name_of(answer: Any, default: str) -> str:
    """The name the learner gave their function or class (``my_train_step``), else ``default``.

    Messages name what the learner actually wrote, so a notebook may call its function anything.
    """
    name = getattr(answer, "__name__", None)
    return name if isinstance(name, str) and name.isidentifier() else default


# -- how values are shown in messages ---------------------------------------------------------


def as_array(value: Any) -> np.ndarray | None:
    """A NumPy array from a tensor, an array or a nested list of numbers; None if it is none of these."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)) or value is None:
        return None
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind in "biuf" else None


def _number(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def show(value: Any) -> str:
    """A value as a message shows it: numbers briefly, arrays and tensors by their shape and type."""
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return _number(value)
    if isinstance(value, torch.Tensor):
        if value.ndim == 0:
            return f"tensor({_number(value.item())})"
        return f"a {tuple(value.shape)} {str(value.dtype).replace('torch.', '')} tensor"
    if isinstance(value, np.ndarray):
        return _number(value.item()) if value.ndim == 0 else f"a {value.shape} {value.dtype} array"
    if isinstance(value, (list, tuple)) and len(value) <= 8 and all(isinstance(v, (int, float)) for v in value):
        return repr(value)
    if value is None or isinstance(value, (str, bytes)):
        return repr(value)
    return f"a {type(value).__name__}"


def _side_by_side(got: Any, expected: Any) -> tuple[str, str] | None:
    """Two unequal floats within 1 % of each other, with the decimals it takes to tell them apart.

    Shown briefly, 0.36 next to 0.3595 reads as "nearly right"; 0.3600 next to 0.3595 shows the gap.
    None for anything else, which ``show`` writes as usual.
    """
    if not all(isinstance(v, (float, np.floating)) for v in (got, expected)):
        return None
    mine, want = float(got), float(expected)
    if not (np.isfinite(mine) and np.isfinite(want)) or mine == want or abs(mine - want) > 0.01 * abs(want):
        return None
    for decimals in range(4, 13):
        if f"{mine:.{decimals}f}" != f"{want:.{decimals}f}":
            return f"{mine:.{decimals}f}", f"{want:.{decimals}f}"
    return None


def difference(got: Any, expected: Any) -> str:
    """``returned …, expected …`` — for arrays the shapes, or the first pixel where they differ."""
    close_numbers = _side_by_side(got, expected)
    if close_numbers:
        return "returned {}, expected {}".format(*close_numbers)
    mine, want = as_array(got), as_array(expected)
    if want is None or want.ndim == 0 or mine is None:
        return f"returned {show(got)}, expected {show(expected)}"
    if mine.shape != want.shape:
        return f"returned shape {mine.shape}, expected {want.shape}"
    mine, want = mine.astype(np.float64), want.astype(np.float64)
    wrong = np.argwhere(~np.isclose(mine, want, rtol=0, atol=1e-5))
    if not len(wrong):
        return f"returned the right shape {want.shape}, but values off by up to {np.abs(mine - want).max():.1e}"
    where = tuple(int(i) for i in wrong[0])
    return (
        f"returned the right shape {want.shape}, but the value at {where if len(where) > 1 else where[0]} is "
        f"{_number(mine[where])}, expected {_number(want[where])}"
    )


# -- what the learner must return (the type checks) -------------------------------------------


def is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool (``True`` is an ``int`` to Python, but never a size or a count)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def whole_number(got: Any, expected: Any = None) -> str | None:
    """Sizes and counts are whole numbers; ``/`` gives floats, so name it."""
    if is_int(got):
        return None
    if isinstance(got, (float, np.floating)) and float(got).is_integer():
        return "a float — sizes and counts are whole numbers: use `//` instead of `/`, or int(...)."
    return f"a {type(got).__name__} — return a whole number (int)."


def floor_divides(answer: Callable[..., Any] | None) -> bool:
    """Whether the learner's own source uses ``//`` (False when it cannot be read, e.g. a builtin)."""
    try:
        lines = inspect.getsource(answer).splitlines(keepends=True)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False
    try:
        tokens = list(tokenize.generate_tokens(iter(lines).__next__))
    except (tokenize.TokenError, SyntaxError):  # a lambda cut out of a longer line: keep what was read
        return "//" in "".join(lines)
    return any(token.type == tokenize.OP and token.string in ("//", "//=") for token in tokens)


def floored(got: Any, expected: Any, answer: Callable[..., Any] | None = None) -> str | None:
    """The ``//`` slip: a whole number where a fraction was expected, the fraction rounded down.

    An int says it by itself; a float (``2.4 // 3.0`` is 0.0) only when ``answer``'s source uses ``//``.
    """
    if not isinstance(expected, (float, np.floating)) or float(expected).is_integer():
        return None
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if is_int(got):
        whole = int(got)
    elif isinstance(got, (float, np.floating)) and float(got).is_integer() and floor_divides(answer):
        whole = int(got)
    else:
        return None
    if whole != math.floor(float(expected)):
        return None
    return "a whole number where a fraction is expected — `//` rounds the fraction down: divide with `/`."


def rounded(got: Any, expected: Any) -> str | None:
    """A fraction returned rounded to a few decimals (``round(iou, 3)``): right, but for the rounding."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if not isinstance(got, (float, np.floating)) or not isinstance(expected, (float, np.floating)):
        return None
    for decimals in range(1, 7):
        near = round(float(expected), decimals)
        if near != float(expected) and math.isclose(float(got), near, rel_tol=1e-7, abs_tol=1e-12):
            return "close, but rounded — return the value as it comes out (round it only to print it)."
    return None


def one_number(got: Any, expected: Any = None) -> str | None:
    """One real number: a Python or NumPy scalar, or a tensor holding one element."""
    if isinstance(got, torch.Tensor):
        return None if got.numel() == 1 else f"a tensor of shape {tuple(got.shape)} — return one number."
    array = as_array(got)
    if array is None or array.ndim != 0 or array.dtype.kind == "b":
        return f"a {type(got).__name__} — return one number."
    return None


# -- how a result is compared ---------------------------------------------------------------


def equal(got: Any, expected: Any) -> bool:
    """The plainest comparison, ``got == expected`` as one bool, for answers that are exact (sizes, counts)."""
    return bool(got == expected)


def close(tolerance: float) -> Callable[[Any, Any], bool]:
    """Numbers that agree within ``tolerance`` (relative for numbers larger than 1)."""

    def agree(got: Any, expected: Any) -> bool:
        value = float(got)
        return bool(np.isfinite(value) and abs(value - float(expected)) <= tolerance * max(1.0, abs(float(expected))))

    return agree


def same_values(tolerance: float = 1e-6) -> Callable[[Any, Any], bool]:
    """Arrays or tensors of the same shape whose values agree within ``tolerance``."""

    def agree(got: Any, expected: Any) -> bool:
        mine, want = as_array(got), as_array(expected)
        if mine is None or want is None or mine.shape != want.shape:
            return False
        return bool(np.allclose(mine.astype(np.float64), want.astype(np.float64), rtol=tolerance, atol=tolerance))

    return agree


# -- the skeleton ----------------------------------------------------------------------------


def _safely(test: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """``test(...)`` as a truth value; False when the learner's odd result makes the test itself fail."""
    try:
        return bool(test(*args, **kwargs))
    except Exception:  # any result the test cannot read is simply "not this"
        return False


IN_PLACE = "the caller still needs it. Build new arrays (`a = a & b`, not `a &= b` or `a[...] = …`), or work on a copy."


def _unchanged(before: Any, after: Any) -> bool:
    """Whether an argument still holds what it held before the learner's function ran (True when unsure)."""
    mine, kept = as_array(after), as_array(before)
    if mine is not None and kept is not None:
        return mine.shape == kept.shape and bool(np.array_equal(mine, kept, equal_nan=kept.dtype.kind == "f"))
    if not isinstance(before, (list, dict, set)):  # numbers, strings, tuples cannot change; objects are not compared
        return True
    try:
        return bool(before == after)
    except Exception:  # a list of arrays does not compare as one bool: not judged
        return True


def _parameter(answer: Callable[..., Any], position: int | str) -> str:
    """The learner's name for a positional argument (``pred``), else "argument 2"."""
    if isinstance(position, str):
        return position
    try:
        names = [
            p.name
            for p in inspect.signature(answer).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):  # a builtin or a callable object without a signature
        names = []
    return names[position] if position < len(names) else f"argument {position + 1}"


def changed_input(
    answer: Callable[..., Any],
    given: Sequence[Any],
    received: Sequence[Any],
    given_kwargs: dict[str, Any] | None = None,
    received_kwargs: dict[str, Any] | None = None,
) -> str | None:
    """The learner's name of the first argument that ``answer`` changed in place, if it changed one.

    ``given`` (and ``given_kwargs``) are the checker's originals; ``received`` the copies the answer was called with.
    """
    given_kwargs, received_kwargs = given_kwargs or {}, received_kwargs or {}
    pairs = [*zip(range(len(given)), given, received), *((k, v, received_kwargs[k]) for k, v in given_kwargs.items())]
    return next((_parameter(answer, key) for key, before, after in pairs if not _unchanged(before, after)), None)


def changed_in_place(name: str, parameter: str) -> Feedback:
    """The verdict on an answer that overwrote its input: the caller's data is gone, whatever it returned."""
    return Feedback(False, f"{name} changed its input `{parameter}` in place: {IN_PLACE}")


def attempt_on_copies(name: str, answer: Callable[..., Any], *args: Any) -> tuple[Any, Feedback | None]:
    """``attempt`` on copies of ``args``, and an answer that changed one of them in place fails (``changed_in_place``):
    the checkers that build their own cases (notebook 11's) test what ``check_cases`` tests, in one place."""
    given = copy.deepcopy(args)
    result, failed = attempt(name, answer, *given)
    if failed is not None:
        return None, failed
    changed = changed_input(answer, args, given)
    return (None, changed_in_place(name, changed)) if changed else (result, None)


@dataclass(frozen=True)
class Case:
    """One input of an exercise and the value expected for it.

    ``label`` names the input in messages (``"a 5×7 image"``; default: the arguments shown briefly);
    ``note`` says what this case tests, the explanation given when no typical mistake matches.
    """

    args: tuple[Any, ...]
    expected: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    note: str | None = None

    def call(self, name: str) -> str:
        """How the call reads in a message: ``conv_output_size(572, kernel_size=3, padding=0)``."""
        shown = self.label or ", ".join([*map(show, self.args), *(f"{k}={show(v)}" for k, v in self.kwargs.items())])
        return f"{name}({shown})"


def case(*args: Any, expected: Any, label: str | None = None, note: str | None = None, **kwargs: Any) -> Case:
    """``case(572, kernel_size=3, expected=570)``: the arguments as the learner's function takes them."""
    return Case(args, expected, kwargs, label, note)


@dataclass(frozen=True)
class Mistake:
    """A typical slip and the sentence that names it.

    ``gives(*args, **kwargs)`` is the wrong answer the slip produces for a case's inputs (``None``:
    the slip does not show on this case); ``when(got, *args, **kwargs)`` instead tests the learner's
    result directly (e.g. "the shape has 3 axes"). ``says`` is the sentence, or a function of
    ``(got, *args, **kwargs)`` that writes it.
    """

    says: str | Callable[..., str]
    gives: Callable[..., Any] | None = None
    when: Callable[..., bool] | None = None

    def matches(self, got: Any, case: Case, same: Callable[[Any, Any], bool]) -> bool:
        """Whether the learner's result ``got`` on ``case`` is what this slip produces."""
        if self.when is not None:
            return _safely(self.when, got, *case.args, **case.kwargs)
        if self.gives is None:
            raise TypeError("a Mistake needs `gives` or `when`")
        wrong = self.gives(*case.args, **case.kwargs)
        return wrong is not None and not same(wrong, case.expected) and _safely(same, got, wrong)

    def explains(self, passed: Sequence[Case], same: Callable[[Any, Any], bool]) -> bool:
        """Whether the slip is consistent with the cases the learner got right: there its answer must be right too."""
        if self.gives is None:
            return True
        wrong = (self.gives(*c.args, **c.kwargs) for c in passed)
        return all(w is None or same(w, c.expected) for w, c in zip(wrong, passed))

    def sentence(self, got: Any, case: Case) -> str:
        return self.says if isinstance(self.says, str) else self.says(got, *case.args, **case.kwargs)


def check_cases(
    exercise: str,
    answer: Callable[..., Any],
    cases: Sequence[Case],
    mistakes: Sequence[Mistake] = (),
    *,
    success: str,
    rule: str,
    returns: Callable[[Any, Any], str | None] | None = None,
    same: Callable[[Any, Any], bool] = equal,
    on_crash: str = "",
) -> Feedback:
    """The one checker loop: every case through ``attempt``, the type check, the comparison, the mistakes.

    For each case in order: call the learner's ``answer`` (a stub gets "your turn", a crash is
    reported with the input that caused it and ``on_crash``, an input changed in place is named: the
    caller's data is gone, whatever the answer); ``returns(got, expected)`` says
    what is wrong with the *kind* of value returned (e.g. ``whole_number``), or None; ``same``
    compares with the expected value. At the first case that fails, an int where a fraction was due (or
    a whole float, from a source that uses ``//``) is named as the ``//`` slip (``floored``), a fraction rounded
    to a few decimals as such (``rounded``); otherwise the first ``Mistake`` that matches — and that would
    have given the right answer on every case passed before — names the slip; otherwise the case's ``note``,
    else ``rule``, explains what was expected. Every message states the input, what came back and what was
    expected.
    ``exercise`` is the function's name in the notebook, used when ``answer`` has none of its own.
    """
    name = name_of(answer, exercise)
    passed: list[Case] = []
    for example in cases:
        call = example.call(name)
        args, kwargs = copy.deepcopy(example.args), copy.deepcopy(example.kwargs)
        got, failed = attempt(name, answer, *args, **kwargs)
        if failed is not None:
            if failed == your_turn(name):
                return failed
            context = "; ".join(text for text in (example.note, on_crash) if text)
            return Feedback(False, f"{failed.message} (on {call}{': ' + context if context else ''})")
        changed = changed_input(answer, example.args, args, example.kwargs, kwargs)
        if changed:
            return changed_in_place(call, changed)
        wrong_kind = returns(got, example.expected) if returns else None
        if wrong_kind:
            return Feedback(False, f"{call} returned {show(got)}: {wrong_kind}")
        if _safely(same, got, example.expected):
            passed.append(example)
            continue
        slips = (m for m in mistakes if m.matches(got, example, same) and m.explains(passed, same))
        why = (
            floored(got, example.expected, answer)
            or rounded(got, example.expected)
            or next((m.sentence(got, example) for m in slips), None)
        )
        return Feedback(False, f"{call} {difference(got, example.expected)}: {why or example.note or rule}")
    return Feedback(True, success)
