"""The served OpenAPI document generates a working Python client (openapi-python-client, pinned).

0 warnings; every response of every operation parses into a typed model; and the generated
client books, reads and cancels an appointment against a live server, reads a 409's ``code``
and the paging header.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import make_server

from opsadmin.staff.service import ensure_default_rules
from tests.conftest import POSTGRES
from tests.factories import LocationFactory, RoomFactory, licensed_clinician

GENERATOR = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
pytestmark = [
    pytest.mark.client_generator,
    pytest.mark.slow,
    pytest.mark.skipif(GENERATOR is None, reason="openapi-python-client is not installed"),
    pytest.mark.skipif(
        POSTGRES, reason="the document does not depend on the database: CI's SQLite stage runs it"
    ),
]
PACKAGE = "opsadmin_generated_client"
INDIANA = ZoneInfo("America/Indiana/Indianapolis")
DAY = dt.date(2026, 12, 1)


@pytest.fixture
def generated(client, tmp_path) -> tuple[dict, Path]:
    spec = client.get("/api/v1/openapi.json").get_json()
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    (tmp_path / "config.yml").write_text("post_hooks: []\n")
    result = subprocess.run(
        [GENERATOR, "generate", "--path", "openapi.json", "--meta", "none",
         "--output-path", PACKAGE, "--config", "config.yml", "--fail-on-warning"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "warning" not in output, output
    return spec, tmp_path


def module_name(method: str, path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", f"{method} {path}".lower()).strip("_")


def test_every_response_of_every_operation_has_a_typed_model(generated):
    spec, root = generated
    modules = {p.stem: p.read_text() for p in (root / PACKAGE / "api").rglob("*.py")}
    checked = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            source = modules[module_name(method, path)]
            parse = source.split("def _parse_response", 1)[1].split("\ndef ", 1)[0]
            for status, response in operation["responses"].items():
                if not response.get("content") and "$ref" not in response:
                    continue  # 204: nothing to parse
                if status == "default":
                    block = parse.rsplit("response_default =", 1)[-1]
                else:
                    block = parse.split(f"if response.status_code == {status}:", 1)[1]
                block = block.split("return ", 1)[0]
                assert ".from_dict(" in block, (method, path, status)
                checked += 1
    assert checked > 100


@pytest.fixture
def site(session):
    ensure_default_rules(session)
    grn = LocationFactory(code="GRN", hours=[(d, "08:00", "18:00") for d in range(7)])
    room = RoomFactory(location=grn, name="Infusion", kind="infusion", capacity=3)
    doctor = licensed_clinician([grn], states=("IN",))
    session.commit()
    return room.id, doctor.id


@pytest.fixture
def live(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_generated_client_drives_the_api(generated, site, live, api_headers, monkeypatch):
    _, root = generated
    monkeypatch.syspath_prepend(str(root))
    generated_client = importlib.import_module(PACKAGE)
    api = importlib.import_module(f"{PACKAGE}.api.bookings")
    models = importlib.import_module(f"{PACKAGE}.models")
    put = importlib.import_module(f"{api.__name__}.put_api_v1_appointments_external_id")
    get = importlib.import_module(f"{api.__name__}.get_api_v1_appointments_external_id")
    patch = importlib.import_module(f"{api.__name__}.patch_api_v1_appointments_external_id")
    listing = importlib.import_module(f"{api.__name__}.get_api_v1_appointments")
    room_id, staff_id = site
    token = api_headers("read", "write")["Authorization"].removeprefix("Bearer ")
    with generated_client.AuthenticatedClient(base_url=live, token=token) as http:

        def booking(hour: int) -> object:
            start = dt.datetime.combine(DAY, dt.time(hour), tzinfo=INDIANA)
            return models.AppointmentPut(
                location="GRN", room_id=room_id, staff_id=staff_id,
                kind=models.AppointmentPutKind.INFUSION,
                indication=models.AppointmentPutIndication.MIGRAINE, patient_ref="P-20931",
                starts_at=start, ends_at=start + dt.timedelta(hours=2),
            )  # fmt: skip

        created = put.sync_detailed("BK-1", client=http, body=booking(9))
        assert created.status_code == 201
        assert isinstance(created.parsed, models.Appointment)
        assert created.parsed.external_id == "BK-1"
        read = get.sync("BK-1", client=http)
        assert isinstance(read, models.Appointment) and read.status.value == "booked"

        cancelled = patch.sync(
            "BK-1",
            client=http,
            body=models.AppointmentStatusChange(
                status=models.AppointmentStatusChangeStatus.CANCELLED
            ),
        )
        assert isinstance(cancelled, models.Appointment)
        assert cancelled.status.value == "cancelled"

        refused = put.sync_detailed("BK-2", client=http, body=booking(5))
        assert refused.status_code == 409
        assert isinstance(refused.parsed, models.Problem)
        assert refused.parsed.code == "outside_opening_hours"

        page = listing.sync_detailed(client=http, page_size=1)
        assert page.status_code == 200
        assert all(isinstance(a, models.Appointment) for a in page.parsed)
        paging = json.loads(page.headers["X-Pagination"])
        assert paging["total"] == 1 and paging["page"] == 1
