"""The committed Python code of the gRPC contract is what the ``.proto`` generates.

Edit ``invoice_financing.proto``, then run ``make proto``: this test fails until the
generated messages (``invoice_financing_pb2.py`` and ``.pyi``) and client stubs
(``invoice_financing_pb2_grpc.py``) are regenerated.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import invoice_financing.proto

pytestmark = pytest.mark.e2e  # runs the compiler, as `make proto` does

PROTO_DIR = Path(invoice_financing.proto.__file__).parent
SERVICES = PROTO_DIR.parents[1]
"""The import root: the code imports ``invoice_financing.proto.invoice_financing_pb2``."""
GENERATED = (
    "invoice_financing_pb2.py",
    "invoice_financing_pb2.pyi",
    "invoice_financing_pb2_grpc.py",
)


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{SERVICES}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        "invoice_financing/proto/invoice_financing.proto",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for name in GENERATED:
        fresh = (tmp_path / "invoice_financing" / "proto" / name).read_bytes()
        committed = (PROTO_DIR / name).read_bytes()
        assert fresh == committed, f"{name} is not what the .proto generates: run `make proto`"
