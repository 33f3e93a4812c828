"""What every exercise checker shares: the verdict (``Feedback``) and a safe call of the learner's code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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
