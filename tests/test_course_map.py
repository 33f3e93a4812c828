"""The README's course map is generated from the notebooks (titles, minutes, badges)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_course_map_is_up_to_date():
    result = subprocess.run(
        [sys.executable, "tools/course_map.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
