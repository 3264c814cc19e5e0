"""A thin layer over the generated Ballast stubs (ballast/v1, `npm run generate`).

It finds a cluster from the cluster.json `ballast up` writes, follows the leading scheduler across
failovers (any scheduler answers GetLeader) and watches jobs to their end. Every call carries
`authorization: Bearer <token>`: BALLAST_TOKEN, or a token minted from the cluster secret
(BALLAST_SECRET_FILE or DIR/secret) exactly as packages/common/src/auth.ts mints them. When the
directory holds the CA of `ballast up --tls` (DIR/tls), channels use TLS.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import grpc

from ballast.v1 import common_pb2, scheduler_pb2, scheduler_pb2_grpc

T = TypeVar("T")

ENDED = {common_pb2.JOB_STATUS_SUCCEEDED, common_pb2.JOB_STATUS_FAILED, common_pb2.JOB_STATUS_CANCELLED}
# A call that failed like this may succeed on the next leader.
LEADER_MAY_HAVE_MOVED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
TOKEN_VERSION = "bt1"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(secret: bytes, role: str, subject: str) -> str:
    """A token of the cluster (role "cluster", subject "cluster") or of a user (role "user", subject the name)."""
    mac = hmac.new(secret, f"ballast-token\n{TOKEN_VERSION}\n{role}\n{subject}".encode(), hashlib.sha256).digest()
    return ".".join([TOKEN_VERSION, role, _b64url(subject.encode()), _b64url(mac)])


def read_secret(path: str | Path) -> bytes:
    return bytes.fromhex(Path(path).read_text().strip())


def _tls_credentials(directory: Path) -> grpc.ChannelCredentials | None:
    tls = directory / "tls"
    if not (tls / "ca.pem").exists():
        return None
    key, cert = tls / "client-key.pem", tls / "client.pem"
    return grpc.ssl_channel_credentials(
        root_certificates=(tls / "ca.pem").read_bytes(),
        private_key=key.read_bytes() if key.exists() else None,
        certificate_chain=cert.read_bytes() if cert.exists() else None,
    )


class Cluster:
    """The schedulers of one Ballast cluster (active and standbys), always asked through the leader."""

    def __init__(
        self,
        schedulers: list[str],
        token: str | None = None,
        operator_token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        patience_s: float = 60.0,
    ):
        """`token` for job calls; `operator_token` (the cluster's) for decommissioning; `credentials` for TLS."""
        if not schedulers:
            raise ValueError("no scheduler address given")
        self.addresses = schedulers
        self.token = token or os.environ.get("BALLAST_TOKEN")
        self.operator_token = operator_token or self.token
        self.credentials = credentials
        self.patience_s = patience_s
        self._channels: dict[str, grpc.Channel] = {}
        self._leader: str | None = None

    @classmethod
    def from_dir(cls, directory: str | Path = ".ballast", user: str | None = None, **options) -> "Cluster":
        """The cluster `ballast up --dir DIRECTORY` started, with tokens minted from its secret."""
        directory = Path(directory)
        description = json.loads((directory / "cluster.json").read_text())
        secret_file = os.environ.get("BALLAST_SECRET_FILE") or directory / "secret"
        if not os.environ.get("BALLAST_TOKEN") and Path(secret_file).exists():
            secret = read_secret(secret_file)
            name = user or os.environ.get("BALLAST_USER") or getpass.getuser()
            options.setdefault("token", mint_token(secret, "user", name))
            options.setdefault("operator_token", mint_token(secret, "cluster", "cluster"))
        options.setdefault("credentials", _tls_credentials(directory))
        return cls([a for a in description["scheduler"].split(",") if a], **options)

    def _stub(self, address: str) -> scheduler_pb2_grpc.SchedulerServiceStub:
        if address not in self._channels:
            channel = grpc.secure_channel(address, self.credentials) if self.credentials else grpc.insecure_channel(address)
            self._channels[address] = channel
        return scheduler_pb2_grpc.SchedulerServiceStub(self._channels[address])

    def _auth(self, operator: bool = False) -> list[tuple[str, str]]:
        token = self.operator_token if operator else self.token
        return [("authorization", f"Bearer {token}")] if token else []

    def leader(self) -> scheduler_pb2_grpc.SchedulerServiceStub:
        """The leading scheduler's stub, looked up again after a failover."""
        deadline = time.monotonic() + self.patience_s
        while self._leader is None:
            for address in self.addresses:
                try:
                    answer = self._stub(address).GetLeader(scheduler_pb2.GetLeaderRequest(), timeout=2, metadata=self._auth())
                except grpc.RpcError as err:
                    if err.code() in REFUSED:
                        raise  # another scheduler would refuse these credentials too
                    continue
                if answer.is_leader or answer.leader_address:
                    self._leader = address if answer.is_leader else answer.leader_address
                    break
            if self._leader is None:
                if time.monotonic() > deadline:
                    raise ConnectionError(f"no leading scheduler at {', '.join(self.addresses)}")
                time.sleep(0.2)
        return self._stub(self._leader)

    def call(self, method: Callable[[scheduler_pb2_grpc.SchedulerServiceStub], T]) -> T:
        """Runs `method(stub)` on the leader, on the next leader if this one went away."""
        deadline = time.monotonic() + self.patience_s
        while True:
            try:
                return method(self.leader())
            except grpc.RpcError as err:
                if err.code() not in LEADER_MAY_HAVE_MOVED or time.monotonic() > deadline:
                    raise
                self._leader = None
                time.sleep(0.2)

    def list_nodes(self) -> list[scheduler_pb2.NodeInfo]:
        return list(self.call(lambda s: s.ListNodes(scheduler_pb2.ListNodesRequest(), timeout=10, metadata=self._auth())).nodes)

    def decommission(self, node_id: str, deadline_ms: int = 0) -> scheduler_pb2.NodeInfo:
        request = scheduler_pb2.DecommissionNodeRequest(node_id=node_id, deadline_ms=deadline_ms)
        return self.call(lambda s: s.DecommissionNode(request, timeout=10, metadata=self._auth(operator=True))).node

    def cancel(self, job_id: str) -> common_pb2.JobInfo:
        return self.call(lambda s: s.CancelJob(scheduler_pb2.CancelJobRequest(job_id=job_id), timeout=10, metadata=self._auth())).job

    def watch(self, job_id: str) -> Iterator[common_pb2.JobInfo]:
        """Every update of the job until it ends (the last one yielded), across scheduler failovers."""
        while True:
            try:
                for update in self.leader().WatchJob(scheduler_pb2.WatchJobRequest(job_id=job_id), metadata=self._auth()):
                    yield update.job
                    if update.job.status in ENDED:
                        return
            except grpc.RpcError as err:
                if err.code() not in LEADER_MAY_HAVE_MOVED:
                    raise
            # The stream ended or broke while the job runs: the scheduler went away.
            self._leader = None
            time.sleep(0.2)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
