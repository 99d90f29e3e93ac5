"""Beyond one machine: two `siting serve` processes (two app servers behind a load balancer) answer checks at
the same time into one PostgreSQL audit log; every answered check is in it, the chain is one unbroken chain,
and `siting history --database URL --verify` passes with either server's checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid

import httpx
import psycopg

from scripts.load_test import serve, stop_server
from tests.sites import site_near

CLIENTS_PER_SERVER = 6
CHECKS_PER_CLIENT = 15


def _post(base: str, sites: list, answered: list[str], failures: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=120) as http:
        for k in range(CHECKS_PER_CLIENT):
            site = sites[k % len(sites)]
            response = http.post("/api/check", json={"lon": site.x, "lat": site.y, "industry": ["造纸", "焦化"][k % 2]})
            if response.status_code != 200:
                failures.append(f"{base}: HTTP {response.status_code} {response.text[:300]}")
                return
            answered.append(response.json()["audit"]["check_id"])


def _verify(database: str, data: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "siting", "history", "--database", database, "--verify", "--format", "json"],
                         capture_output=True, text=True, timeout=300, env=os.environ | {"SITING_DATA_DIR": data})
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def test_two_app_servers_share_one_postgresql_chain(layers, data_dir, postgres_url, tmp_path, monkeypatch):
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("SITING_AUDIT_KEY", str(tmp_path / "agency-audit-key.pem"))  # one key, given to every app server
    roots = []
    for name in ("a", "b"):
        root = tmp_path / name
        root.mkdir()
        for shared in ("layers", "sources"):  # the built default layers, shared read-only
            (root / shared).symlink_to(data_dir / shared)
        roots.append(root)
    servers = [serve(root, options=("--database", url)) for root in roots]
    sites = [site_near(layers, "fen_river", "140825", d) for d in (300, 1500, 2500)]
    answered: list[str] = []
    failures: list[str] = []
    try:
        clients = [threading.Thread(target=_post, args=(base, sites, answered, failures))
                   for _, base in servers for _ in range(CLIENTS_PER_SERVER)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
    finally:
        for process, _ in servers:
            assert stop_server(process) == 0
    assert not failures, failures
    assert len(answered) == 2 * CLIENTS_PER_SERVER * CHECKS_PER_CLIENT == len(set(answered))
    with psycopg.connect(url) as connection:
        stored = {row[0] for row in connection.execute("SELECT id FROM checks")}
        seqs = [row[0] for row in connection.execute("SELECT seq FROM checks ORDER BY seq")]
    assert set(answered) <= stored and seqs == list(range(1, len(seqs) + 1))
    for root in roots:  # each server's own checkpoints vouch for the one chain
        report = _verify(url, str(root))
        assert report["intact"] and report["records"] == len(stored) and report["checkpoints"] > 0, report
