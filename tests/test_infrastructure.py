"""Settings, the generated secret key and SQLite's write transactions."""

import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from marketplace import create_app
from marketplace.config import load_settings
from marketplace.sqlite import write_intent


def test_secret_key_is_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_settings(str(tmp_path))["SECRET_KEY"]
    second = load_settings(str(tmp_path))["SECRET_KEY"]
    assert first == second
    assert len(first) >= 64
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    other = load_settings(str(tmp_path / "elsewhere"))["SECRET_KEY"]
    assert other != first


def test_secret_key_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_settings(str(tmp_path))["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_url_selects_the_driver(tmp_path, monkeypatch, given, expected):
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_settings(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == expected


def test_default_database_is_sqlite_in_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = load_settings(str(tmp_path))["SQLALCHEMY_DATABASE_URI"]
    assert url == f"sqlite:///{tmp_path / 'circuit_court.db'}"


def sqlite_engine(path):
    app = create_app({"INSTANCE_PATH": str(path), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path / 'c.db'}"})
    with app.app_context():
        from marketplace.extensions import db
        return db.engine


def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path):
    engine = sqlite_engine(tmp_path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_concurrent_read_then_write_transactions_queue_instead_of_failing(tmp_path):
    """Eight writers each read a counter then write it back, at the same time.

    With BEGIN IMMEDIATE they take turns (busy timeout) and no update is lost;
    with SQLite's default deferred BEGIN, some would fail with "database is
    locked" when upgrading their read lock.
    """
    url = f"sqlite:///{tmp_path / 'race.db'}"
    sqlite_engine(tmp_path)  # registers our connect/begin listeners
    engine = create_engine(url)
    with write_intent(), engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    errors: list[Exception] = []
    barrier = threading.Barrier(8)

    def writer():
        try:
            barrier.wait()
            for _ in range(10):
                with write_intent(), engine.begin() as conn:
                    n = conn.execute(text("SELECT n FROM counter")).scalar()
                    conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar() == 80
    assert errors == []
    engine.dispose()


def test_health_endpoint(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_security_headers(client):
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert "<html" in response.get_data(as_text=True)


def test_the_demo_is_seeded_with_the_address_make_run_serves():
    """The demo's confirmation e-mails are written by `make demo`, before `make run`
    starts the server: their links must already lead to the port it will serve."""
    root = Path(__file__).resolve().parent.parent
    dry = subprocess.run(["make", "-n", "demo", "PORT=5077"], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    seed = next(line for line in dry.splitlines() if "seed-demo" in line)
    assert "PUBLIC_URL=${PUBLIC_URL:-http://127.0.0.1:5077}" in seed
