"""What the checker tests share: a learner's stub, a crash, and the two verdicts asserted with their words.

Every answer the tests feed a checker is written in the test file itself, independently of
``unet_lib``: a known-right answer must pass, and each typical mistake a checker claims to name
must be rejected with a message that names it.
"""

from __future__ import annotations

from unet_lib.checks import Feedback


def stub(*args, **kwargs):
    raise NotImplementedError("Your turn")


def crashes(*args, **kwargs):
    raise ZeroDivisionError("division by zero")


def assert_passed(feedback: Feedback, *words: str) -> None:
    """The verdict is "correct", and its message holds every word given."""
    assert feedback.passed, repr(feedback)
    assert repr(feedback).startswith("✅ Correct! ")
    for word in words:
        assert word in feedback.message, f"{word!r} not in {feedback.message!r}"


def assert_rejected(feedback: Feedback, *words: str) -> None:
    """The verdict is "not yet", and its message names the mistake (every word appears in it, case-insensitively)."""
    assert not feedback.passed, repr(feedback)
    assert repr(feedback).startswith("❌ Not yet: ")
    for word in words:
        assert word.lower() in feedback.message.lower(), f"{word!r} not in {feedback.message!r}"
