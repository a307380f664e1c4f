"""The framework's floor: a bare Flask app answering one small JSON document.

Served by the same gunicorn command as the real app (``gunicorn benchmarks.bare_app:app``), so the
difference between the two is what opsadmin adds: auth, the database, the schemas.
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/bare")
def bare():
    return jsonify({"location": "IN001", "date": "2026-03-02", "slots": []})
