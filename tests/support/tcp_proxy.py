"""A TCP proxy on loopback that can take a database away without touching the server (R-AV).

The suite's PostgreSQL is shared by every engineer and every test run, so an outage is played
in front of it: processes under test connect to the proxy, and :meth:`TcpProxy.cut` resets every
connection through it (as a crashed or restarted server does) and closes the listening socket, so
new connections are refused by the kernel (``ECONNREFUSED``, as while a server restarts) until
:meth:`TcpProxy.restore` listens on the same port again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field


@dataclass
class ProxyCounts:
    connections: int = 0  # accepted and forwarded
    dropped: int = 0  # reset by cut()
    outages: int = 0


@dataclass
class TcpProxy:
    target_host: str
    target_port: int
    host: str = "127.0.0.1"
    port: int = 0
    counts: ProxyCounts = field(default_factory=ProxyCounts)
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        if self.port == 0:
            # Pick the port once, so restore() listens where every client was pointed.
            with socket.socket() as probe:
                probe.bind((self.host, 0))
                self.port = probe.getsockname()[1]
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )

    @property
    def is_up(self) -> bool:
        return self._server is not None

    async def cut(self) -> None:
        """Refuse new connections and reset every open one, on both sides."""
        assert self._server is not None, "already cut"
        self._server.close()
        self._server = None
        self.counts.outages += 1
        for writer in list(self._open):
            writer.transport.abort()
            self.counts.dropped += 1
        self._open.clear()

    async def restore(self) -> None:
        assert self._server is None, "not cut"
        await self.start()

    async def close(self) -> None:
        if self._server is not None:
            await self.cut()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted in the instant before cut() closed the socket
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.counts.connections += 1
        self._open.update((writer, up_writer))
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._tasks.difference_update(pipes)
            for w in (writer, up_writer):
                self._open.discard(w)
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        writer.transport.abort()
