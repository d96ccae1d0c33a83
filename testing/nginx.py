"""Run nginx (Debian's package) in front of server processes, from scripts/nginx.conf.template,
as a process of our own: its own prefix directory under var/, its own port, no root needed."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE = BASE_DIR / "scripts" / "nginx.conf.template"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def addr_regex(backend: str) -> str:
    """The map key matching `backend` as the last (answering) address of $upstream_addr."""
    return "~(^|[ ,])" + backend.replace(".", "\\.") + "$"


def render(*, prefix: Path, listen: str, backends: list[str]) -> str:
    """The config for nginx listening on `listen` in front of `backends` ("host:port" each)."""
    names = [f"realtime_{i}" for i in range(len(backends))]
    blocks = [
        "    upstream realtime_all {\n" + "".join(f"        server {b} max_fails=0;\n" for b in backends) + "    }"
    ]
    for name, backend in zip(names, backends, strict=True):
        others = "".join(f"        server {b} backup;\n" for b in backends if b != backend)
        blocks.append(f"    upstream {name} {{\n        server {backend} max_fails=0;\n{others}    }}")
    text = TEMPLATE.read_text()
    for key, value in {
        "@PREFIX@": str(prefix),
        "@LISTEN@": listen,
        "@UPSTREAMS@": "\n".join(blocks),
        "@SERVER_NAMES@": "\n".join(f"        {n} {n};" for n in names),
        "@SERVER_ADDRS@": "\n".join(f'        "{addr_regex(b)}" {n};' for n, b in zip(names, backends, strict=True)),
    }.items():
        text = text.replace(key, value)
    return text


@dataclass
class Nginx:
    url: str
    port: int
    prefix: Path
    popen: subprocess.Popen

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    def log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def start(*, port: int, backends: list[str], prefix: Path) -> Nginx:
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
        (prefix / sub).chmod(0o777)  # nginx's workers may run as nobody when started by root
    conf = prefix / "nginx.conf"
    conf.write_text(render(prefix=prefix, listen=f"127.0.0.1:{port}", backends=backends))
    popen = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    nginx = Nginx(f"http://127.0.0.1:{port}", port, prefix, popen)
    deadline = time.monotonic() + 15
    while True:
        if popen.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{nginx.log()}")
        try:
            if requests.get(nginx.url + "/healthz", timeout=1).status_code == 200:
                return nginx
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            nginx.stop()
            raise RuntimeError(f"nginx did not answer in 15s:\n{nginx.log()}")
        time.sleep(0.1)  # polling a process that is starting: there is no event to wait on
