"""Shared by the Dask peer benchmarks: a LocalCluster like Ballast's 2-node cluster
(2 worker processes, one thread each on this 2-core machine), started before the clock
runs, and one JSON line of figures on stdout for bench/peers.ts to read."""
import json
import logging
import sys
import time
from contextlib import contextmanager

from distributed import Client, LocalCluster


@contextmanager
def local_client(workers=2):
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def report(**figures):
    json.dump(figures, sys.stdout)
    sys.stdout.write("\n")
