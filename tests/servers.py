"""Real storage servers on 127.0.0.1 for tests: moto's S3 server, gcp-storage-emulator, Azurite.

Each starts in a fraction of a second; fixtures in ``tests/conftest.py`` run one
per test session and hand out fresh buckets so tests never see each other's data.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["S3Server", "GCSServer", "AzuriteServer", "free_port", "AZURITE_CONN"]

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on 127.0.0.1:{port} did not start within {timeout}s")


def AZURITE_CONN(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )


@dataclass
class S3Server:
    """moto's S3 server in a thread of this process."""

    port: int = field(default_factory=free_port)
    _server: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        _wait_port(self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def storage_options(self) -> dict[str, Any]:
        return {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": self.endpoint_url}}

    def new_bucket(self) -> str:
        import boto3

        name = f"t-{uuid.uuid4().hex[:20]}"
        boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket=name)
        return name


@dataclass
class GCSServer:
    """gcp-storage-emulator in a subprocess (in memory)."""

    port: int = field(default_factory=free_port)
    _proc: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GCSServer:
        beside = os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator")
        exe = beside if os.path.exists(beside) else shutil.which("gcp-storage-emulator")
        if exe is None:
            raise RuntimeError("gcp-storage-emulator is not installed (pip install gcp-storage-emulator)")
        self._proc = subprocess.Popen(
            [exe, "start", "--host", "127.0.0.1", "--port", str(self.port), "--in-memory", "-q"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    def storage_options(self) -> dict[str, Any]:
        return {"token": "anon", "endpoint_url": self.endpoint_url}

    def new_bucket(self) -> str:
        import json

        name = f"t-{uuid.uuid4().hex[:20]}"
        req = urllib.request.Request(
            f"{self.endpoint_url}/storage/v1/b?project=test",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(req, timeout=10).read()
        return name


@dataclass
class AzuriteServer:
    """Azurite's blob service in a subprocess (npm package ``azurite``)."""

    port: int = field(default_factory=free_port)
    _proc: Any = None
    _dir: str = ""

    def start(self) -> AzuriteServer:
        exe = os.environ.get("FSMIRROR_AZURITE") or shutil.which("azurite-blob")
        if not exe or not os.path.exists(exe):
            raise RuntimeError("azurite-blob is not installed (bash .ci/azurite-install DIR)")
        self._dir = tempfile.mkdtemp(prefix="azurite-")
        self._proc = subprocess.Popen(
            [
                exe, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", self._dir,
                "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def storage_options(self) -> dict[str, Any]:
        return {"connection_string": AZURITE_CONN(self.port)}

    def new_bucket(self) -> str:
        from azure.storage.blob import BlobServiceClient

        name = f"t-{uuid.uuid4().hex[:20]}"
        BlobServiceClient.from_connection_string(AZURITE_CONN(self.port)).create_container(name)
        return name
