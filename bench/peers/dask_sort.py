"""TeraSort-style sort with dask.dataframe on 2 worker processes: 100-byte lines keyed by
their first 10 bytes, range-partitioned by sampled quantiles (set_index), written in order."""
import os
import sys

import dask.bag as db

from dask_common import local_client, report, timed


def main():
    path, output, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
    blocksize = max(1, os.path.getsize(path) // 2)
    with local_client() as client:
        def run():
            lines = db.read_text(path, blocksize=blocksize).map(str.rstrip, "\n")
            frame = lines.map(lambda line: {"key": line[:10], "line": line}).to_dataframe(meta={"key": str, "line": str})
            ordered = frame.set_index("key", npartitions=partitions, shuffle="tasks")
            ordered["line"].to_csv(os.path.join(output, "part-*.txt"), index=False, header=False)
        _, seconds = timed(run)
    report(seconds=seconds)


if __name__ == "__main__":
    main()
