"""Start a Ray worker node on 127.0.0.1 that joins a loopback-only head, and keep it until killed.

``ray start --address=…`` cannot do this in Ray 2.60: in Ray's single-node mode (the one in
which every server binds 127.0.0.1) the CLI refuses to start a worker node, and in multi-node
mode Ray rewrites 127.0.0.1 to the machine's external address and binds its servers there. Ray's
own multi-node tests (``ray.cluster_utils.Cluster``) start extra nodes on loopback through
``ray._private.node.Node``; this script does the same in its own process, so a test can SIGKILL
the node (this process, its raylet and its workers) as a machine failure would.

Usage: python loopback_ray_node.py GCS_ADDRESS --num-cpus N --resources JSON
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray reads it: loopback servers

import ray._private.node
import ray._private.parameter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gcs_address")
    parser.add_argument("--num-cpus", type=float, default=1)
    parser.add_argument("--resources", type=json.loads, default={})
    args = parser.parse_args()
    params = ray._private.parameter.RayParams(
        gcs_address=args.gcs_address,
        node_ip_address="127.0.0.1",
        num_cpus=args.num_cpus,
        resources=args.resources,
        object_store_memory=200 * 1024 * 1024,
        min_worker_port=0,
        max_worker_port=0,
        node_manager_port=0,
        include_log_monitor=False,  # the head's monitor already forwards this machine's logs
    )
    params.dashboard_agent_listen_port = None
    node = ray._private.node.Node(params, head=False, shutdown_at_exit=True, spawn_reaper=True)
    print(f"node {node.node_id} joined {args.gcs_address}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    node.kill_all_processes(check_alive=False, allow_graceful=True)


if __name__ == "__main__":
    main()
