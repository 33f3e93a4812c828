"""unet_lib.runtime: the fast-mode warning that every notebook prints the same way."""

from unet_lib import runtime


def test_fast_mode_note_only_in_fast_mode(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    note = runtime.fast_mode_note("training ran 4 steps instead of 2½ minutes")
    assert note.startswith("⚠ Fast mode (UNET_FAST=1") and "training ran 4 steps instead of 2½ minutes" in note
    assert "Unset UNET_FAST" in note and "\n" not in note
    monkeypatch.setenv(runtime.FAST_ENV, "0")
    assert runtime.fast_mode_note("training ran 4 steps") == ""
