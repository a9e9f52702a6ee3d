"""The Python client in docs/service.md runs as written against the running service, over
the generated stub, and prints what the docs say it prints."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from eskit.serving import ServiceRuntime

pytestmark = pytest.mark.e2e  # runs the example in a process of its own

SERVICE_DOC = Path(__file__).resolve().parents[3] / "docs" / "service.md"


def client_example() -> str:
    """The code block of the gRPC section that uses the stub."""
    section = SERVICE_DOC.read_text().split("\n## gRPC\n", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert "BankAccountServiceStub" in example
    return str(example)


async def test_the_documented_client_runs(runtime: ServiceRuntime, tmp_path: Path) -> None:
    script = tmp_path / "client.py"
    script.write_text(client_example())
    environment = {**os.environ, "BANK_GRPC": f"127.0.0.1:{runtime.grpc_port}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        cwd=tmp_path,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["1250 USD 2", "FAILED_PRECONDITION insufficient_funds"]
