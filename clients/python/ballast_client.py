"""A thin layer over the generated Ballast stubs (ballast/v1, `npm run generate`).

It finds a cluster from the cluster.json `ballast up` writes, follows the leading scheduler across
failovers (any scheduler answers GetLeader) and watches jobs to their end. The servers speak
plaintext gRPC today, so channels are insecure.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import grpc

from ballast.v1 import common_pb2, scheduler_pb2, scheduler_pb2_grpc

T = TypeVar("T")

ENDED = {common_pb2.JOB_STATUS_SUCCEEDED, common_pb2.JOB_STATUS_FAILED, common_pb2.JOB_STATUS_CANCELLED}
# A call that failed like this may succeed on the next leader.
LEADER_MAY_HAVE_MOVED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


class Cluster:
    """The schedulers of one Ballast cluster (active and standbys), always asked through the leader."""

    def __init__(self, schedulers: list[str], patience_s: float = 60.0):
        if not schedulers:
            raise ValueError("no scheduler address given")
        self.addresses = schedulers
        self.patience_s = patience_s
        self._channels: dict[str, grpc.Channel] = {}
        self._leader: str | None = None

    @classmethod
    def from_dir(cls, directory: str | Path = ".ballast", **options) -> "Cluster":
        """The cluster `ballast up --dir DIRECTORY` started."""
        description = json.loads(Path(directory, "cluster.json").read_text())
        return cls([a for a in description["scheduler"].split(",") if a], **options)

    def _stub(self, address: str) -> scheduler_pb2_grpc.SchedulerServiceStub:
        if address not in self._channels:
            self._channels[address] = grpc.insecure_channel(address)
        return scheduler_pb2_grpc.SchedulerServiceStub(self._channels[address])

    def leader(self) -> scheduler_pb2_grpc.SchedulerServiceStub:
        """The leading scheduler's stub, looked up again after a failover."""
        deadline = time.monotonic() + self.patience_s
        while self._leader is None:
            for address in self.addresses:
                try:
                    answer = self._stub(address).GetLeader(scheduler_pb2.GetLeaderRequest(), timeout=2)
                except grpc.RpcError:
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
        return list(self.call(lambda s: s.ListNodes(scheduler_pb2.ListNodesRequest(), timeout=10)).nodes)

    def decommission(self, node_id: str, deadline_ms: int = 0) -> scheduler_pb2.NodeInfo:
        request = scheduler_pb2.DecommissionNodeRequest(node_id=node_id, deadline_ms=deadline_ms)
        return self.call(lambda s: s.DecommissionNode(request, timeout=10)).node

    def cancel(self, job_id: str) -> common_pb2.JobInfo:
        return self.call(lambda s: s.CancelJob(scheduler_pb2.CancelJobRequest(job_id=job_id), timeout=10)).job

    def watch(self, job_id: str) -> Iterator[common_pb2.JobInfo]:
        """Every update of the job until it ends (the last one yielded), across scheduler failovers."""
        while True:
            try:
                for update in self.leader().WatchJob(scheduler_pb2.WatchJobRequest(job_id=job_id)):
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
