"""The reverse proxy a multi-worker Odoo sits behind, for ``make run ARGS=--workers=2``.

With ``--workers``, Odoo's HTTP workers cannot hold websockets: browsers must reach the gevent
worker for ``/websocket`` and the HTTP workers for everything else, on one address. In
production nginx does that; here a small asyncio proxy does the same on one port:

    FrontProxy(8069, http_port=..., gevent_port=...).start()

Each client connection is routed by the path of its first request, then bytes flow both ways
untouched. Browsers open a websocket on a connection of its own, so ``/websocket`` always
starts one; the gevent worker also answers any other request a kept-alive connection sends it.
"""

import asyncio
import threading

BUFFER = 64 * 1024


class FrontProxy:
    def __init__(self, port, http_port, gevent_port, host=None, upstream="127.0.0.1"):
        self.port, self.host = port, host
        self.http_port, self.gevent_port, self.upstream = http_port, gevent_port, upstream
        self._loop = None
        self._thread = None
        self._ready = threading.Event()

    def start(self):
        self._thread = threading.Thread(target=self._serve, name="front-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self):
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def _serve(self):
        self._loop = asyncio.new_event_loop()
        server = self._loop.run_until_complete(asyncio.start_server(self._client, self.host, self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _client(self, reader, writer):
        try:
            request_line = await reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        parts = request_line.split(b" ")
        path = parts[1] if len(parts) > 2 else b"/"
        port = self.gevent_port if path == b"/websocket" or path.startswith((b"/websocket?", b"/websocket/")) \
            else self.http_port
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.upstream, port)
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
            return
        upstream_writer.write(request_line)
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    @staticmethod
    async def _pipe(reader, writer):
        try:
            while data := await reader.read(BUFFER):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except RuntimeError:
                pass
