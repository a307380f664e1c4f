"""Idempotency-Key on POST /api/v1/referrals: replay, mismatch, a duplicate in progress, expiry."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import sqlalchemy as sa

from opsadmin.auth import idempotency
from opsadmin.auth.models import IdempotencyRecord
from opsadmin.db import utcnow
from opsadmin.referrals import service
from opsadmin.referrals.models import Referral
from tests.referrals.conftest import referral_body

URL = "/api/v1/referrals"


@pytest.fixture
def key_headers(api_headers):
    headers = api_headers("read", "write", name="booking")
    return lambda key: {**headers, "Idempotency-Key": key}


def rows(session, model=Referral) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count(model.id)))


def test_same_key_and_body_replays_the_first_response(client, chain, key_headers, session):
    first = client.post(URL, json=referral_body(), headers=key_headers("k-1"))
    second = client.post(URL, json=referral_body(), headers=key_headers("k-1"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_data() == first.get_data()
    assert second.headers["Location"] == first.headers["Location"]
    assert second.content_type == first.content_type
    assert rows(session) == 1


def test_the_same_json_spelled_differently_is_the_same_request(client, chain, key_headers, session):
    body = referral_body()
    client.post(URL, json=body, headers=key_headers("k-1"))
    respelled = json.dumps(dict(reversed(list(body.items()))), indent=2)
    replay = client.post(
        URL, data=respelled, content_type="application/json", headers=key_headers("k-1")
    )
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert rows(session) == 1


def test_same_key_with_another_body_is_422(client, chain, key_headers, session):
    client.post(URL, json=referral_body(), headers=key_headers("k-1"))
    response = client.post(URL, json=referral_body(patient_ref="P-1"), headers=key_headers("k-1"))
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert rows(session) == 1


def _claim_in_progress(app, api_key_id: int, key: str, body: dict, *, age=dt.timedelta(0)) -> None:
    with app.test_request_context(URL, method="POST", json=body):
        endpoint, digest = idempotency._fingerprint()
    from opsadmin.extensions import db

    now = utcnow() - age
    db.session.add(
        IdempotencyRecord(
            api_key_id=api_key_id,
            key=key,
            endpoint=endpoint,
            request_hash=digest,
            state="in_progress",
            created_at=now,
            expires_at=now + dt.timedelta(hours=72),
        )
    )
    db.session.commit()


def test_duplicate_while_the_first_is_in_progress_is_409(
    app, client, chain, key_headers, api_headers, session
):
    headers = key_headers("k-1")
    _claim_in_progress(app, api_headers.last_key.id, "k-1", referral_body())
    response = client.post(URL, json=referral_body(), headers=headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "duplicate"
    assert rows(session) == 0


def test_a_claim_abandoned_by_a_killed_process_is_taken_over(
    app, client, chain, key_headers, api_headers, session
):
    headers = key_headers("k-1")
    age = idempotency.ABANDONED_AFTER + dt.timedelta(minutes=1)
    _claim_in_progress(app, api_headers.last_key.id, "k-1", referral_body(), age=age)
    assert client.post(URL, json=referral_body(), headers=headers).status_code == 201
    replay = client.post(URL, json=referral_body(), headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert rows(session) == 1


def test_concurrent_duplicate_gets_409_and_one_referral_is_made(
    app, chain, key_headers, session, monkeypatch
):
    headers = key_headers("k-1")
    claimed, release = threading.Event(), threading.Event()
    create = service.create_referral

    def slow_create(*args, **kwargs):
        claimed.set()  # the first request holds its claim here
        assert release.wait(10)
        return create(*args, **kwargs)

    monkeypatch.setattr(service, "create_referral", slow_create)
    answers = {}

    def post(name):
        answers[name] = app.test_client().post(URL, json=referral_body(), headers=headers)

    first = threading.Thread(target=post, args=("first",))
    first.start()
    assert claimed.wait(10)
    post("second")
    release.set()
    first.join(10)
    assert answers["first"].status_code == 201
    assert answers["second"].status_code == 409
    assert answers["second"].get_json()["code"] == "duplicate"
    third = app.test_client().post(URL, json=referral_body(), headers=headers)
    assert third.headers["Idempotent-Replayed"] == "true"
    assert third.get_data() == answers["first"].get_data()
    assert rows(session) == 1


def test_racing_identical_requests_make_one_referral(app, chain, key_headers, session):
    headers = key_headers("k-race")
    barrier = threading.Barrier(6)
    answers = []

    def post():
        client = app.test_client()
        barrier.wait(10)
        answers.append(client.post(URL, json=referral_body(), headers=headers))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = sorted(a.status_code for a in answers)
    created = [
        a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers
    ]
    assert len(created) == 1
    assert set(statuses) <= {201, 409}
    assert rows(session) == 1


def test_keys_are_scoped_per_api_key(client, chain, api_headers, session):
    one = {**api_headers("read", "write", name="one"), "Idempotency-Key": "same"}
    two = {**api_headers("read", "write", name="two"), "Idempotency-Key": "same"}
    assert client.post(URL, json=referral_body(), headers=one).status_code == 201
    response = client.post(URL, json=referral_body(), headers=two)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert rows(session) == 2


def test_a_refused_request_releases_its_key(client, chain, key_headers, session):
    bad = referral_body(referring_provider={"name": "Dr X", "npi": "1234567890"})
    assert client.post(URL, json=bad, headers=key_headers("k-1")).status_code == 422
    assert client.post(URL, json=referral_body(), headers=key_headers("k-1")).status_code == 201
    assert rows(session) == 1


def test_a_crash_after_the_insert_leaves_neither_referral_nor_record(
    client, chain, key_headers, session, monkeypatch
):
    create = service.create_referral

    def crash(*args, **kwargs):
        create(*args, **kwargs)
        raise RuntimeError("worker died between the insert and the response")

    monkeypatch.setattr(service, "create_referral", crash)
    response = client.post(URL, json=referral_body(), headers=key_headers("k-1"))
    assert response.status_code == 500
    assert rows(session) == 0
    assert rows(session, IdempotencyRecord) == 0
    monkeypatch.setattr(service, "create_referral", create)
    assert client.post(URL, json=referral_body(), headers=key_headers("k-1")).status_code == 201


def test_the_response_is_stored_with_the_referral(client, chain, key_headers, session):
    response = client.post(URL, json=referral_body(), headers=key_headers("k-1"))
    session.rollback()
    record = session.scalar(sa.select(IdempotencyRecord))
    assert (record.state, record.response_status) == ("done", 201)
    assert json.loads(record.response_body)["id"] == response.get_json()["id"]
    assert record.expires_at - record.created_at >= dt.timedelta(hours=72)


def test_expired_records_are_purged_and_the_key_is_new_again(client, chain, key_headers, session):
    client.post(URL, json=referral_body(), headers=key_headers("k-1"))
    session.rollback()
    record = session.scalar(sa.select(IdempotencyRecord))
    record.created_at = record.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    response = client.post(URL, json=referral_body(), headers=key_headers("k-1"))
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert rows(session) == 2
    assert rows(session, IdempotencyRecord) == 1


def test_purge_expired_deletes_only_expired_records(client, chain, key_headers, session):
    for key in ("old", "new"):
        client.post(URL, json=referral_body(patient_ref=key), headers=key_headers(key))
    session.rollback()
    old = session.scalar(sa.select(IdempotencyRecord).where(IdempotencyRecord.key == "old"))
    old.expires_at = utcnow() - dt.timedelta(minutes=1)
    session.commit()
    assert idempotency.purge_expired(session) == 1
    session.commit()
    assert session.scalars(sa.select(IdempotencyRecord.key)).all() == ["new"]


def test_without_a_key_each_post_creates(client, chain, api_headers, session):
    headers = api_headers("read", "write")
    client.post(URL, json=referral_body(), headers=headers)
    client.post(URL, json=referral_body(), headers=headers)
    assert rows(session) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ"])
def test_a_malformed_key_is_422(client, chain, key_headers, key, session):
    response = client.post(URL, json=referral_body(), headers=key_headers(key))
    assert response.status_code == 422
    assert rows(session) == 0
