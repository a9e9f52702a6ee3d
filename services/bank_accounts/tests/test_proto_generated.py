"""The committed Python code of the gRPC contract is what the ``.proto`` generates.

Edit ``bank_accounts.proto``, then run ``make proto``: this test fails until the generated
messages (``bank_accounts_pb2.py`` and ``.pyi``) and client stubs (``bank_accounts_pb2_grpc.py``)
are regenerated. The code names the protobuf and gRPC versions of the compiler that wrote
it, so a grpcio-tools of another release fails it too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bank_accounts.proto

pytestmark = pytest.mark.e2e  # runs the compiler, as `make proto` does

PROTO_DIR = Path(bank_accounts.proto.__file__).parent
SERVICES = PROTO_DIR.parents[1]
"""The import root: the code imports ``bank_accounts.proto.bank_accounts_pb2``."""
GENERATED = ("bank_accounts_pb2.py", "bank_accounts_pb2.pyi", "bank_accounts_pb2_grpc.py")


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{SERVICES}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        "bank_accounts/proto/bank_accounts.proto",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for name in GENERATED:
        fresh = (tmp_path / "bank_accounts" / "proto" / name).read_bytes()
        committed = (PROTO_DIR / name).read_bytes()
        if fresh != committed:
            made_by, found = _versions(fresh), _versions(committed)
            why = f" (made by {found}, this compiler is {made_by})" if made_by != found else ""
            pytest.fail(f"{name} is not what the .proto generates{why}: run `make proto`")


def _versions(code: bytes) -> str:
    """The compiler versions ``code`` names: protobuf's for messages, gRPC's for stubs."""
    for line in code.decode().splitlines():
        if line.startswith("# Protobuf Python Version:"):
            return "protobuf " + line.partition(":")[2].strip()
        if line.startswith("GRPC_GENERATED_VERSION"):
            return "grpc " + line.partition("=")[2].strip().strip("'")
    return "?"
