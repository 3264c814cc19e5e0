"""Run by test/e2e/python-client.test.ts against a real cluster: BALLAST_CLUSTER_DIR names it,
BALLAST_JOB_ID a running job."""
import os
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ballast.v1 import common_pb2, scheduler_pb2  # noqa: E402
from ballast_client import Cluster  # noqa: E402


# unittest runs methods by name: a, then b, so the node goes only once the job has ended.
class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster.from_dir(os.environ["BALLAST_CLUSTER_DIR"])

    def tearDown(self):
        self.cluster.close()

    def test_a_watches_a_job_to_its_end(self):
        updates = list(self.cluster.watch(os.environ["BALLAST_JOB_ID"]))
        self.assertEqual(updates[-1].status, common_pb2.JOB_STATUS_SUCCEEDED)
        self.assertEqual(updates[-1].result.count, 2)
        self.assertTrue(all(u.status == common_pb2.JOB_STATUS_RUNNING for u in updates[:-1]))

    def test_b_lists_nodes_and_decommissions_one(self):
        nodes = self.cluster.list_nodes()
        self.assertEqual(sorted(n.node_id for n in nodes), ["node-1", "node-2"])
        node = self.cluster.decommission("node-2", deadline_ms=60_000)
        self.assertIn(node.state, (scheduler_pb2.NODE_STATE_DECOMMISSIONING, scheduler_pb2.NODE_STATE_DECOMMISSIONED))


if __name__ == "__main__":
    unittest.main()
