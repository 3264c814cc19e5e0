"""Word count of a text file with dask.bag on 2 worker processes, written out as text
files like Ballast's saveAsTextFile: read, split, count, write."""
import os
import sys

import dask.bag as db

from dask_common import local_client, report, timed


def main():
    path, output = sys.argv[1], sys.argv[2]
    blocksize = max(1, os.path.getsize(path) // 8)  # 8 input partitions, as the Ballast job asks
    with local_client() as client:
        def run():
            words = db.read_text(path, blocksize=blocksize).map(str.split).flatten()
            counts = words.frequencies(split_every=8).repartition(4)
            counts.map(lambda kv: f"{kv[0]}\t{kv[1]}").to_textfiles(os.path.join(output, "part-*.txt"))
        _, seconds = timed(run)
    report(seconds=seconds)


if __name__ == "__main__":
    main()
