"""Schemathesis over the whole OpenAPI document, in-process (acceptance 4 of issue 3).

Every registered operation is fuzzed with schema-valid and schema-invalid requests carrying a key
with every scope: no answer may be a 5xx, and every answer must match what the document says
(status, content type, headers, body). Bounded: a few examples per operation, no shrinking.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from opsadmin.staff.service import ensure_default_rules
from tests.factories import LocationFactory, RegionFactory, RoomFactory, licensed_clinician

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 4}


def seed(session) -> None:
    ensure_default_rules(session)
    grn = LocationFactory(code="GRN", region=RegionFactory(code="IN", name="Indiana"))
    RoomFactory(location=grn, name="Infusion A", capacity=3)
    RoomFactory(location=grn, name="Consult 1", kind="consult", capacity=1)
    licensed_clinician([grn], name="Dr Seed")
    session.commit()


def fuzz(operation, mode: GenerationMode, headers: dict[str, str]) -> list[str]:
    """Run ``operation``'s examples; return the failures as readable text."""
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES[mode],
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except Exception as failure:  # noqa: BLE001 - collected and reported below
            failures.append(f"{operation.label} [{mode.value}]: {failure}")

    try:
        run()
    except Unsatisfiable:
        # Nothing to negate (an operation without parameters or body): nothing to test here.
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request"
    return failures


def test_api_conforms_to_its_openapi_document(app, session, api_headers):
    seed(session)
    headers = api_headers("read", "write", "admin")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        for mode in EXAMPLES:
            failures += fuzz(operation, mode, headers)
    assert not failures, "\n\n".join(failures[:10])
