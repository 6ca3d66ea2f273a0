"""nginx in front of Botwarden: the configuration docs/integrate.md shows, and a runner.

`forward_auth_server()` is the `server {}` block of the documented nginx integration (a
test checks the docs still show it); `NginxProcess` runs a real nginx with such blocks in
a private prefix, for the end-to-end tests and the benchmark.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

NGINX = "/usr/sbin/nginx"

RESULT_HEADERS = (
    ("Botwarden-Score", "botwarden_score"),
    ("Botwarden-Score-Src", "botwarden_score_src"),
    ("Botwarden-Verified-Bot", "botwarden_verified_bot"),
    ("Botwarden-JA4", "botwarden_ja4"),
    ("Botwarden-Detection-Ids", "botwarden_detection_ids"),
)


def forward_auth_server(listen: str, botwarden: str, origin: str, server_name: str = "_") -> str:
    """An nginx `server` that asks Botwarden about every request (`auth_request`) and
    passes the result to the origin. `botwarden` and `origin` are upstream names or
    host:port."""
    keep = "\n".join(
        f"        auth_request_set ${var} $upstream_http_{var};" for _, var in RESULT_HEADERS
    )
    pass_on = "\n".join(f"        proxy_set_header {name} ${var};" for name, var in RESULT_HEADERS)
    return f"""\
server {{
    listen {listen};
    server_name {server_name};

    # Botwarden's own paths: the challenge page and its verification.
    location /cdn-cgi/ {{
        proxy_pass http://{botwarden};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
    }}

    # The sub-request: the client's headers as they came, plus what nginx knows.
    location = /_botwarden_auth {{
        internal;
        proxy_pass http://{botwarden}/cdn-cgi/auth?proxy=nginx;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Forwarded-Method $request_method;
        proxy_set_header X-Forwarded-Uri $request_uri;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-For $remote_addr;
    }}

    # A challenge comes back as 401 with its address in Location.
    location @botwarden_challenge {{
        add_header Set-Cookie $botwarden_cookie always;
        return 302 $botwarden_location;
    }}

    location / {{
        auth_request /_botwarden_auth;
{keep}
        auth_request_set $botwarden_cookie $upstream_http_set_cookie;
        auth_request_set $botwarden_location $upstream_http_location;
        error_page 401 = @botwarden_challenge;

        proxy_pass http://{origin};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        # The result; these also replace any copy the client sent.
{pass_on}
        add_header Set-Cookie $botwarden_cookie always;
    }}
}}
"""


def proxy_server(listen: str, upstream: str) -> str:
    """A plain reverse proxy (`proxy_pass`), for comparison in the benchmark."""
    return f"""\
server {{
    listen {listen};
    location / {{
        proxy_pass http://{upstream};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
}}
"""


def upstream_block(name: str, address: str, keepalive: int = 64) -> str:
    return f"upstream {name} {{\n    server {address};\n    keepalive {keepalive};\n}}\n"


def main_config(prefix: Path, http_blocks: Sequence[str], *, workers: int = 1) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    body = "\n".join("    " + line if line else "" for b in http_blocks for line in b.splitlines())
    return f"""\
{user}worker_processes {workers};
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
{temp}
{body}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NginxProcess:
    """`with NginxProcess(prefix, [blocks]) as nginx:` — nginx in the foreground, stopped
    (SIGQUIT, then SIGKILL) on exit. `wait_port(p)` waits until it listens on `p`."""

    def __init__(
        self,
        prefix: Path,
        http_blocks: Sequence[str],
        *,
        binary: str = NGINX,
        workers: int = 1,
    ) -> None:
        self.prefix = prefix
        self.binary = shutil.which(binary) or binary
        self.config = prefix / "nginx.conf"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        self.config.write_text(main_config(prefix, http_blocks, workers=workers))
        self.process: subprocess.Popen[bytes] | None = None

    def check(self) -> None:
        out = subprocess.run(
            [self.binary, "-t", "-p", str(self.prefix), "-c", str(self.config)],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{out.stderr.decode(errors='replace')}")

    def __enter__(self) -> NginxProcess:
        self.check()
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.prefix), "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    def wait_port(self, port: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"nginx exited: {err}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nginx not listening on {port}") from None
                time.sleep(0.02)

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        p = self.process
        if p is None:
            return
        p.send_signal(signal.SIGQUIT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
        if p.stderr is not None:
            p.stderr.close()
        self.process = None
