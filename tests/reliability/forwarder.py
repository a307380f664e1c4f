"""A TCP forwarder on loopback that can misbehave: the fault injector of the reliability tests.

Put between the app and PostgreSQL or Redis, it forwards bytes both ways (``pass``), or
- ``refuse``: stops listening (new connections are refused) and resets the open ones;
- ``drop``: closes the open connections and every new one at once;
- ``blackhole``: keeps every connection open, accepts new ones, and forwards nothing (a hung
  server or a network that silently drops packets).
Back to ``pass``, connections that lived through a fault are closed (their bytes were lost).
It runs an asyncio loop in a daemon thread; the test calls :meth:`set_mode` from its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading

MODES = ("pass", "refuse", "drop", "blackhole")


class Forwarder:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tainted: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # -- control, from the test's thread -------------------------------------------------------
    def start(self) -> Forwarder:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        self._call(self._switch(mode))

    def _call(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    # -- the loop's side -----------------------------------------------------------------------
    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _switch(self, mode: str) -> None:
        previous, self.mode = self.mode, mode
        if mode == "refuse" and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            self._close_all(reset=True)
        elif mode == "drop":
            self._close_all(reset=False)
        elif mode == "blackhole":
            self._tainted |= {client for client, _ in self._links}
        elif mode == "pass":
            for client, upstream in list(self._links):
                if client in self._tainted or previous != "pass":
                    self._close(client, upstream, reset=False)
            self._tainted.clear()
            if self._server is None:
                await self._listen()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._close_all(reset=False)

    def _close_all(self, *, reset: bool) -> None:
        for client, upstream in list(self._links):
            self._close(client, upstream, reset=reset)

    def _close(self, client, upstream, *, reset: bool) -> None:
        self._links.discard((client, upstream))
        for writer in (client, upstream):
            if writer is None:
                continue
            sock = writer.get_extra_info("socket")
            if reset and sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "drop":
            writer.close()
            return
        if self.mode == "blackhole":
            self._tainted.add(writer)
            self._links.add((writer, None))
            await self._swallow(reader)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        link = (writer, up_writer)
        self._links.add(link)
        await asyncio.gather(
            self._pump(reader, up_writer, writer), self._pump(up_reader, writer, writer)
        )
        self._close(writer, up_writer, reset=False)

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while await reader.read(65536):
                pass

    async def _pump(self, reader, writer, client) -> None:
        with contextlib.suppress(OSError, ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if self.mode == "blackhole" or client in self._tainted:
                    continue  # swallowed: nobody hears of it
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()
