"""The examples in docs/ run as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_projections_example_runs(tmp_path: Path) -> None:
    text = (DOCS / "projections.md").read_text()
    # the first block is the complete example; later ones are fragments of it
    example = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    script = tmp_path / "example.py"
    script.write_text(example)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "'balance': 100" in done.stdout
