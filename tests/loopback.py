"""A bare TCP server on 127.0.0.1 for tests that need a peer misbehaving on purpose
(closing at once, resetting mid-DATA, not speaking HTTP): subclass it and write `handle`."""

from __future__ import annotations

import socket
import threading


class LoopbackServer:
    """Accepts on an ephemeral port of 127.0.0.1; each connection goes to `handle` on its
    own thread. `close()` stops accepting."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()
