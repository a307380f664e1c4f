"""The booking chain of tests/bookings, and a real HTTP server that receives webhooks."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.bookings.conftest import DAY, at, chain  # noqa: F401 - fixtures shared with bookings


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """What the local webhook server got, and the statuses it answers with (then 204)."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.received.append(Received(body, {k.lower(): v for k, v in self.headers.items()}))
            status = state.answers.pop(0) if state.answers else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            state.arrived.set()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/opsadmin"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def booking_body(chain):  # noqa: F811
    def make(**fields):
        return {
            "location": "GRN",
            "room_id": chain.infusion.id,
            "staff_id": chain.dr_in.id,
            "kind": "infusion",
            "indication": "migraine",
            "patient_ref": "P-20931",
            "starts_at": at(DAY, "09:00").isoformat(),
            "ends_at": at(DAY, "11:00").isoformat(),
            "status": "booked",
        } | fields

    return make
