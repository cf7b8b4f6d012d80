"""`WORKERS=N` (PostgreSQL): N node processes on this machine serving HOST:PORT together.

`python -m app` with WORKERS > 1 runs this small supervisor instead of the app
(it never imports Quart or Tortoise). It binds every listening socket itself,
then starts N children, each `python -m app --listen-fds=PUBLIC,PRIVATE` with
WORKERS=1, NODE_ID=<base>-<i> and NODE_URL=<its private address> in its
environment, and closes its own copies of their sockets. Each child is an
ordinary node of the cluster that serves the two sockets it inherited:

- PUBLIC: HOST:PORT, bound once per child with SO_REUSEPORT, so the kernel
  spreads new connections over the children (only those already listening,
  that is past their start-up). Before binding them the supervisor binds
  HOST:PORT once without SO_REUSEPORT: an address already served (another
  Qari's workers included, which would otherwise be joined silently) is the
  usual one line, and PORT=0 becomes one port that every child shares.
- PRIVATE: the child's own address for node-to-node forwards (a forward to
  the shared port would land on a random worker): HOST (127.0.0.1 when HOST
  is every interface and no NODE_URL is given) on a port the kernel picks.
  An ephemeral port cannot collide with anything else on the machine (PORT+i
  could, and means nothing when PORT is 0), and nothing needs to know it
  beforehand: nodes find each other's NODE_URL in the `nodes` table. NODE_URL,
  when given, keeps its scheme and host and gets each child's own port.

Binding here, not in the children, means every address error is reported
once, before any child starts or opens the database, and that each child's
NODE_URL is known when it starts (its settings are read as any node's are).

Signals: SIGTERM and SIGINT are passed on to every child, each of which
stops as one node does, releasing its leases (the children run in sessions of
their own, so a Ctrl-C or a signal to the supervisor's process group reaches
them once, from here); the supervisor exits 0 once all exited 0.
A child that exits unasked (a failed start-up, a crash) stops the others and
the supervisor exits 1 with one line naming it; restarting is the service
manager's job. A child still running `SHUTDOWN_DRAIN_SECONDS` +
`DATABASE_TIMEOUT_SECONDS` + STOP_MARGIN_SECONDS after the signal is killed
(exit 1). On Linux each child gets SIGTERM if the supervisor dies, so none
is left serving behind a dead supervisor.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from app.cluster.worker_addresses import (
    LISTEN_FDS,
    NODE_ID_MAX,
    base_node_id,
    bind_host,
    listener,
    private_bind_host,
    public_port,
    worker_node_url,
)
from app.logs import configure_logging

if TYPE_CHECKING:
    from app.settings import Settings

EXIT_STARTUP = 1
EXIT_SETTINGS = 2
# Past a child's own shutdown bound: Hypercorn's graceful_timeout (hypercorn.toml).
STOP_MARGIN_SECONDS = 15.0
POLL_SECONDS = 0.05
_PR_SET_PDEATHSIG = 1

log = logging.getLogger("qari.workers")


@dataclass
class Worker:
    """One child node: its number, id, private URL and process."""

    index: int
    node_id: str
    node_url: str
    process: subprocess.Popen[bytes]

    def describe(self) -> str:
        return f"worker {self.index} (node {self.node_id}, pid {self.process.pid})"


def _die_with_parent() -> Callable[[], None] | None:
    """For Popen's preexec_fn (Linux): the child gets SIGTERM when the supervisor dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # loaded before the fork
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the supervisor died before prctl
            os._exit(EXIT_STARTUP)

    return preexec


def _status(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with status {code}"


class Supervisor:
    """Start the workers, pass on stop signals, wait; see the module's docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.count = settings.workers
        self.base_id = base_node_id(settings.node_id)
        self.stop_seconds = (
            settings.shutdown_drain_seconds
            + settings.database_timeout_seconds
            + STOP_MARGIN_SECONDS
        )
        self.workers: list[Worker] = []
        self._signals: list[int] = []

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self._signals.append(signum)  # passed on by the loop, never mid-start

    def run(self) -> int:
        longest = f"{self.base_id}-{self.count - 1}"
        if len(longest) > NODE_ID_MAX:
            log.error(
                "NODE_ID is too long for WORKERS=%d: worker ids are NODE_ID-<n> (%s),"
                " at most %d characters",
                self.count,
                longest[:40] + "...",
                NODE_ID_MAX,
            )
            return EXIT_SETTINGS
        host = bind_host(self.settings.host)
        private_host = private_bind_host(self.settings.host, self.settings.node_url)
        sockets: list[tuple[socket.socket, socket.socket]] = []
        try:
            port = public_port(host, self.settings.port)
            for _ in range(self.count):
                public = listener(host, port, shared=True)
                private = listener(private_host, 0, shared=False)
                # Listening now, not once the child has started: a forward that
                # reaches a worker still starting waits for it instead of being
                # refused. The public one waits, so that HOST:PORT's connections
                # go only to children that serve already.
                private.listen(socket.SOMAXCONN)
                sockets.append((public, private))
        except OSError as error:
            for pair in sockets:
                for sock in pair:
                    sock.close()
            log.error(
                "cannot listen on %s:%s: %s",
                self.settings.host,
                self.settings.port,
                error.strerror or error,
            )
            return EXIT_STARTUP
        handlers = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            preexec = _die_with_parent()
            for index, (public, private) in enumerate(sockets):
                self.workers.append(self._start(index, port, public, private, preexec))
                public.close()  # the child's now: a dead child's socket takes no connection
                private.close()
            return self._watch()
        finally:
            for pair in sockets:
                for sock in pair:
                    sock.close()
            for worker in self.workers:  # only after an error of the supervisor's own
                if worker.process.poll() is None:
                    worker.process.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        worker.process.wait(5)
            for signum, handler in handlers.items():
                signal.signal(signum, handler)

    def _start(
        self,
        index: int,
        port: int,
        public: socket.socket,
        private: socket.socket,
        preexec: Callable[[], None] | None,
    ) -> Worker:
        node_id = f"{self.base_id}-{index}"
        private_host = private_bind_host(self.settings.host, self.settings.node_url)
        node_url = worker_node_url(
            self.settings.node_url, private_host, int(private.getsockname()[1])
        )
        env = {
            **os.environ,
            "WORKERS": "1",
            "NODE_ID": node_id,
            "NODE_URL": node_url,
            "PORT": str(port),
        }
        fds = (public.fileno(), private.fileno())
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own arguments
            [sys.executable, "-m", "app", f"{LISTEN_FDS}{fds[0]},{fds[1]}"],
            env=env,
            pass_fds=fds,
            # Out of the supervisor's process group (and terminal): a Ctrl-C or a
            # signal to the group reaches the children once, passed on from here.
            start_new_session=True,
            preexec_fn=preexec,  # safe: the supervisor runs no threads
        )
        worker = Worker(index, node_id, node_url, process)
        log.info("started %s at %s", worker.describe(), node_url)
        return worker

    def _stop(self, signum: int) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(signum)

    def _watch(self) -> int:
        """Until every worker has exited; the supervisor's exit status."""
        passed_on = 0
        # Set once stopping: asked to by a signal, or because a worker exited unasked.
        deadline: float | None = None
        failed: Worker | None = None
        while True:
            while passed_on < len(self._signals):
                self._stop(self._signals[passed_on])
                passed_on += 1
                if deadline is None:
                    deadline = time.monotonic() + self.stop_seconds
            running = [w for w in self.workers if w.process.poll() is None]
            if deadline is None and len(running) < len(self.workers):
                failed = next(w for w in self.workers if w.process.returncode is not None)
                assert failed.process.returncode is not None
                log.error(
                    "%s %s: stopping the other workers",
                    failed.describe(),
                    _status(failed.process.returncode),
                )
                self._stop(signal.SIGTERM)
                deadline = time.monotonic() + self.stop_seconds
            if not running:
                break
            if deadline is not None and time.monotonic() > deadline:
                for worker in running:
                    log.error(
                        "%s did not stop within %.0f s: killed",
                        worker.describe(),
                        self.stop_seconds,
                    )
                    worker.process.kill()
                for worker in running:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        worker.process.wait(5)
                return EXIT_STARTUP
            time.sleep(POLL_SECONDS)
        if failed is not None:
            return EXIT_STARTUP
        unclean = [w for w in self.workers if w.process.returncode != 0]
        for worker in unclean:
            assert worker.process.returncode is not None
            log.error("%s %s while stopping", worker.describe(), _status(worker.process.returncode))
        return EXIT_STARTUP if unclean else 0


def supervise(settings: Settings) -> int:
    """Run WORKERS node processes behind HOST:PORT until they stop; the exit status."""
    configure_logging(settings.secrets(), settings.log_level, settings.log_format)
    return Supervisor(settings).run()
