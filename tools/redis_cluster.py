"""A private Redis Cluster on loopback (issue 11): N masters (and R replicas each), on free ports,
with Debian's `redis-server` 7 and `redis-cli --cluster create`. Used by the test suite, the bench
and `CLUSTER=1 make run`.

    python -m tools.redis_cluster DIR [--masters 3] [--replicas 1]   # runs until Ctrl-C
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.embedded_redis import free_port, port_is_free, wait_ready

NODE_TIMEOUT_MS = 1000  # a dead master is failed over within a few seconds


def binaries() -> tuple[str, str]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if not server or not cli:
        raise RuntimeError("a Redis Cluster needs redis-server and redis-cli 7 on PATH (apt-get install redis-server)")
    out = subprocess.run([server, "--version"], capture_output=True, text=True, check=True).stdout
    version = out.split("v=", 1)[1].split()[0]
    if int(version.split(".")[0]) < 7:
        raise RuntimeError(f"sharded pub/sub needs Redis 7 or later; {server} is {version}")
    return server, cli


def cluster_port(taken: set[int]) -> int:
    """A free port whose cluster bus port (+10000) is free too: at most 55535."""
    for _ in range(1000):
        port = free_port()
        if port <= 55535 and port not in taken and port_is_free(port + 10000):
            taken.add(port)
            return port
    raise RuntimeError("no free port pair (port, port+10000) for a Redis Cluster node")


@dataclass
class Node:
    port: int
    data_dir: Path
    popen: subprocess.Popen | None = None

    def start(self, server: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir)]
        args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        args += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--appendonly", "no", "--save", ""]
        args += ["--logfile", str(self.data_dir / "redis.log")]
        self.popen = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port, proc=self.popen)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)
            self.popen.wait(10)


@dataclass
class RedisCluster:
    nodes: list[Node]
    cli: str
    server: str
    masters: int
    replicas: int
    _clients: list = field(default_factory=list)

    @property
    def url(self) -> str:
        """A live node's URL (a test may have killed the first one)."""
        live = next(n for n in self.nodes if n.popen is not None and n.popen.poll() is None)
        return f"redis://127.0.0.1:{live.port}/0"

    def client(self):
        import redis

        return redis.RedisCluster.from_url(self.url)

    def master_ports(self) -> list[int]:
        import redis

        ports = []
        for node in self.nodes:
            if node.popen is None or node.popen.poll() is not None:
                continue
            role = redis.Redis(port=node.port).info("replication")["role"]
            if role == "master":
                ports.append(node.port)
        return ports

    def node(self, port: int) -> Node:
        return next(n for n in self.nodes if n.port == port)

    def owner_port(self, key: str) -> int:
        c = self.client()
        try:
            return c.get_node_from_key(key).port
        finally:
            c.close()

    def wait_ok(self, timeout: float = 30) -> None:
        """Every live node says the cluster is ok and sees every slot covered."""
        import redis

        deadline = time.monotonic() + timeout
        while True:
            states = []
            for node in self.nodes:
                if node.popen is None or node.popen.poll() is not None:
                    continue
                try:
                    info = redis.Redis(port=node.port).cluster("info")
                except redis.RedisError:
                    states.append(False)
                    continue
                states.append(info.get("cluster_state") == "ok" and int(info.get("cluster_slots_ok", 0)) == 16384)
            if states and all(states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ok")
            time.sleep(0.1)  # the nodes gossip on their own clock: poll

    def slot_owner_port(self, slot: int) -> int:
        import redis

        for start_, end, master, *_ in redis.Redis(port=self.master_ports()[0]).cluster("slots"):
            if start_ <= slot <= end:
                return int(master[1])
        raise LookupError(f"slot {slot} is not covered")

    def move_slot(self, slot: int, to_port: int) -> None:
        """Move one slot (and its keys) to the master on `to_port`, as `redis-cli --cluster
        reshard` does it: IMPORTING / MIGRATING, MIGRATE of its keys, SETSLOT NODE everywhere."""
        import redis

        src_port = self.slot_owner_port(slot)
        src, dst = redis.Redis(port=src_port), redis.Redis(port=to_port)
        src_id, dst_id = src.cluster("myid"), dst.cluster("myid")
        src_id = src_id.decode() if isinstance(src_id, bytes) else src_id
        dst_id = dst_id.decode() if isinstance(dst_id, bytes) else dst_id
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
        for port in self.master_ports():
            redis.Redis(port=port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        self.wait_ok()

    def flushall(self) -> None:
        import redis

        for port in self.master_ports():
            redis.Redis(port=port).flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start(data_dir: Path, *, masters: int = 3, replicas: int = 1) -> RedisCluster:
    server, cli = binaries()
    data_dir = data_dir.resolve()  # redis-server enters --dir first: a relative --logfile would not resolve
    shutil.rmtree(data_dir, ignore_errors=True)
    taken: set[int] = set()
    nodes = [Node(cluster_port(taken), data_dir / f"node-{i}") for i in range(masters * (1 + replicas))]
    cluster = RedisCluster(nodes, cli, server, masters, replicas)
    try:
        for node in nodes:
            for attempt in range(5):  # a port found free can be taken before redis-server binds it
                try:
                    node.start(server)
                    break
                except RuntimeError:
                    if attempt == 4:
                        raise
                    node.port = cluster_port(taken)
        create = [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes)]
        create += ["--cluster-replicas", str(replicas), "--cluster-yes"]
        subprocess.run(create, check=True, capture_output=True, text=True, timeout=60)
        cluster.wait_ok()
        if replicas:
            _wait_replicas(cluster, masters * replicas)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_replicas(cluster: RedisCluster, count: int, timeout: float = 30) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while True:
        linked = 0
        for node in cluster.nodes:
            info = redis.Redis(port=node.port).info("replication")
            if info["role"] == "slave" and info.get("master_link_status") == "up":
                linked += 1
        if linked >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the cluster's replicas did not link to their masters")
        time.sleep(0.1)  # replication links up on its own clock: poll


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--masters", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()
    cluster = start(args.data_dir, masters=args.masters, replicas=args.replicas)
    print(cluster.url, flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop:
            signal.pause() if hasattr(signal, "pause") else time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
