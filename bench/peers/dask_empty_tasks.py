"""N empty tasks on Dask distributed with 2 worker processes: submit to last result."""
import sys

from dask_common import local_client, report, timed


def nothing(i):
    return None


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with local_client() as client:
        def run():
            futures = client.map(nothing, range(tasks), pure=False)
            client.gather(futures)
        _, seconds = timed(run)
    report(tasks=tasks, seconds=seconds)


if __name__ == "__main__":
    main()
