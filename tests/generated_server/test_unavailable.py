"""When the store cannot take an event the server says so (503, Retry-After), never a bare 500."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg

from tests.conftest import EXAMPLE_CONFIG, fresh_postgres_url
from tests.servers import running_server


def test_a_store_that_fails_gives_the_documented_503(tmp_path: Path) -> None:
    url = fresh_postgres_url()
    schema = parse_qs(urlparse(url).query)["options"][0].split("=")[1]
    body = {"event": "x.y", "email": "a@b.co"}
    headers = {"Authorization": "Bearer be_acme_test_key"}
    with running_server("generated_server.sendrealm", EXAMPLE_CONFIG, url, log_dir=tmp_path) as server:
        assert httpx.post(server.base_url + "/events", json=body, headers=headers).status_code == 202
        with psycopg.connect(os.environ["INGESTSPEC_TEST_PG"], autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        response = httpx.post(server.base_url + "/events", json=body, headers=headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "https://api.sendrealm.com/problems/storage-unavailable"
