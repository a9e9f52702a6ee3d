"""The committed Python code of the gRPC contract is what the ``.proto`` generates.

Edit ``bank_accounts.proto``, then run ``make proto``: this test fails until the generated
``bank_accounts_pb2.py`` and ``.pyi`` are regenerated. The code names the protobuf version
of the compiler that wrote it, so a grpcio-tools of another protobuf release fails it too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bank_accounts.proto

pytestmark = pytest.mark.e2e  # runs the compiler, as `make proto` does

PROTO_DIR = Path(bank_accounts.proto.__file__).parent
GENERATED = ("bank_accounts_pb2.py", "bank_accounts_pb2.pyi")


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        "bank_accounts.proto",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for name in GENERATED:
        fresh = (tmp_path / name).read_bytes()
        committed = (PROTO_DIR / name).read_bytes()
        if fresh != committed:
            made_by, found = _protobuf_version(fresh), _protobuf_version(committed)
            why = f" (protobuf {found}, this compiler writes {made_by})" if made_by != found else ""
            pytest.fail(f"{name} is not what the .proto generates{why}: run `make proto`")


def _protobuf_version(code: bytes) -> str:
    for line in code.decode().splitlines():
        if line.startswith("# Protobuf Python Version:"):
            return line.partition(":")[2].strip()
    return "?"
