"""A real two-node Ray cluster on this one machine: each node in a network namespace of its own, the two
joined by a veth pair with private addresses, `ray start --head` in one and `ray start --address` in the
other. The nodes share the file system (the photos, the destination) as nodes on a shared disk do.

Needs root and `ip netns`; `why_not()` says why it cannot run here. Everything this makes has a unique
prefix (namespaces, veths, temporary folder) and a mark in its processes' environment, and leaving the
`with` block (on failure too) SIGKILLs the marked processes and deletes the namespaces (the veths go with
them): `ray stop` is never used, since it would stop every Ray process on the machine, other users' too.
Traffic stays between the two namespaces: no default route, no address outside 10.213.7.0/24.

Every Ray process (and the driver, run through `driver_command`) imports gendersort from this tree, and
the `counting/` hook beside this file: the photos each actor call was given are appended to a file per
process under `counts/`, so that the work done (and done again) is measured, not guessed; while
`crash_every_batch` is on, every actor call kills its own process (a crash loop).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOOK = Path(__file__).resolve().parent / "counting"
MARK = "GENDERSORT_FAULT_NODE"
COUNTS = "GENDERSORT_FAULT_COUNTS"
CRASH = "GENDERSORT_FAULT_CRASH"
SUBNET = "10.213.7"
PORT = 6379
JOIN_TIMEOUT_S = 90
NODES = ("head", "worker")


def why_not() -> str:
    """Empty when a cluster can be made here; else the reason it cannot."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not shutil.which("ip"):
        return "needs iproute2's `ip`"
    probe = f"gsfprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=True)
    return ""


def pids_marked(value: str) -> list[int]:
    """The processes whose environment holds MARK=value (a node's Ray processes, a driver)."""
    needle = f"{MARK}={value}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # ended while looked at
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class TwoNodes:
    """The cluster, for one `with` block: `address` is the head's GCS, `cpus` logical CPUs per node."""

    def __init__(self, cpus: int = 2) -> None:
        self.prefix = f"gsf{uuid.uuid4().hex[:6]}"
        self.cpus = cpus
        self.address = f"{SUBNET}.1:{PORT}"
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.counts = self.scratch / "counts"
        self.counts.mkdir()
        self.crash_flag = self.scratch / "crash-every-batch"
        self.token = uuid.uuid4().hex

    def namespace(self, node: str) -> str:
        return f"{self.prefix}{node[0]}"

    def mark(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def env(self, node: str) -> dict[str, str]:
        """The environment of a node's processes (and the driver's, node "driver"). Ray 2.59 and later turn
        token authentication on for some clusters and keep the token in ~/.ray: this cluster gets a token
        of its own, in its environment, and a home of its own, so that nothing is written outside it. It is
        a multi-node cluster (the tests' RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 would refuse one), its traffic
        inside the namespaces."""
        path = os.pathsep.join([str(HOOK), str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return os.environ | {MARK: self.mark(node), COUNTS: str(self.counts), CRASH: str(self.crash_flag),
                             "PYTHONPATH": path,
                             "RAY_USAGE_STATS_ENABLED": "0", "TMPDIR": str(self.scratch),
                             "HOME": str(self.scratch), "RAY_AUTH_MODE": "token",
                             "RAY_AUTH_TOKEN": self.token, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}

    def __enter__(self) -> TwoNodes:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        head, worker = (self.namespace(node) for node in NODES)
        for namespace in (head, worker):
            ip("netns", "add", namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
        ip("link", "add", f"{self.prefix}a", "type", "veth", "peer", "name", f"{self.prefix}b")
        for index, (namespace, end) in enumerate(((head, "a"), (worker, "b")), start=1):
            ip("link", "set", f"{self.prefix}{end}", "netns", namespace)
            ip("-n", namespace, "addr", "add", f"{SUBNET}.{index}/24", "dev", f"{self.prefix}{end}")
            ip("-n", namespace, "link", "set", f"{self.prefix}{end}", "up")
        self.start_node("head")
        self.start_node("worker")
        self.wait_for_nodes(2)

    def start_node(self, node: str) -> None:
        index = NODES.index(node) + 1
        where = ["--head", f"--port={PORT}", "--include-dashboard=false"] if node == "head" else [
            f"--address={self.address}"]
        command = ["ip", "netns", "exec", self.namespace(node), sys.executable, "-m", "ray.scripts.scripts",
                   "start", *where, f"--node-ip-address={SUBNET}.{index}", f"--num-cpus={self.cpus}",
                   "--num-gpus=0", "--disable-usage-stats", f"--temp-dir={self.scratch / node}"]
        done = subprocess.run(command, env=self.env(node), capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"ray start ({node}) failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    def wait_for_nodes(self, count: int) -> None:
        """Until `count` nodes are alive (a worker's raylet registers with the head a moment after start)."""
        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False);"
                 "print(sum(node['Alive'] for node in ray.nodes()))")
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while True:
            alive = self.run_driver([sys.executable, "-c", probe, self.address], timeout=60)
            if alive.returncode == 0 and alive.stdout.split()[-1:] == [str(count)]:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster has not {count} nodes alive after {JOIN_TIMEOUT_S} s: "
                                   f"{alive.stdout[-500:]} {alive.stderr[-1500:]}")
            time.sleep(1)

    def driver_command(self, command: list[str]) -> list[str]:
        """A command run on the head node, as a driver is."""
        return ["ip", "netns", "exec", self.namespace("head"), *command]

    def run_driver(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.driver_command(command), env=self.env("driver"), capture_output=True,
                              text=True, timeout=timeout)

    def node_pids(self, node: str) -> list[int]:
        """Every process of a node: its raylet, object store, agents and workers."""
        return pids_marked(self.mark(node))

    def kill_node(self, node: str) -> None:
        """SIGKILL every process of a node: the node is lost."""
        kill_all(self.node_pids(node))

    def actor_pids(self, *nodes: str) -> list[int]:
        """The processes of the classifying actors, on the nodes named (on either node if none is)."""
        actors = []
        for node in nodes or NODES:
            for pid in self.node_pids(node):
                try:
                    if b"PhotoClassifier" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        actors.append(pid)
                except OSError:
                    continue
        return actors

    def crash_every_batch(self, on: bool) -> None:
        """From now on every actor call SIGKILLs its own process (on), or none does (off)."""
        if on:
            self.crash_flag.touch()
        else:
            self.crash_flag.unlink(missing_ok=True)

    def clear_counts(self) -> None:
        for path in self.counts.iterdir():
            path.unlink()

    def photos_classified(self) -> int:
        """Photos given to actor calls so far, on both nodes (the counting hook's files)."""
        return sum(int(line) for path in self.counts.iterdir() for line in path.read_text().split())

    def close(self) -> None:
        """Every process this cluster started, gone; its namespaces (with their veths) and files too."""
        for _ in range(3):
            pids = [pid for node in (*NODES, "driver") for pid in pids_marked(self.mark(node))]
            if not pids:
                break
            kill_all(pids)
            time.sleep(0.5)
        for node in NODES:
            subprocess.run(["ip", "netns", "del", self.namespace(node)], capture_output=True)
        subprocess.run(["ip", "link", "del", f"{self.prefix}a"], capture_output=True)  # if never moved
        shutil.rmtree(self.scratch, ignore_errors=True)
