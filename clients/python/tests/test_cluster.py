"""Run by test/e2e/python-client.test.ts against a real cluster: BALLAST_CLUSTER_DIR names it,
BALLAST_JOB_ID a running job."""
import os
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ballast.v1 import common_pb2, scheduler_pb2  # noqa: E402
import grpc  # noqa: E402
from ballast_client import Cluster, mint_token, read_secret  # noqa: E402


# unittest runs methods by name: a, then b, so the node goes only once the job has ended.
class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster.from_dir(os.environ["BALLAST_CLUSTER_DIR"])

    def tearDown(self):
        self.cluster.close()

    def test_0_refuses_calls_without_the_right_token(self):
        addresses = self.cluster.addresses
        with Cluster(addresses, token="bt1.user.Zm9v.forged", patience_s=0) as stranger:
            with self.assertRaises(grpc.RpcError) as refused:
                stranger.list_nodes()
            self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        user_token = mint_token(read_secret(Path(os.environ["BALLAST_CLUSTER_DIR"], "secret")), "user", "alice")
        with Cluster(addresses, token=user_token, operator_token=user_token) as alice:
            self.assertEqual(len(alice.list_nodes()), 2)
            with self.assertRaises(grpc.RpcError) as denied:
                alice.decommission("node-1")
            self.assertEqual(denied.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

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
