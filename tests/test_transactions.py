"""One commit per request, at the boundary, and what runs only once a change is kept
(marketplace/transactions.py)."""

from __future__ import annotations

import pytest
from flask import abort
from sqlalchemy import func, select

from marketplace.catalogue.models import Category
from marketplace.extensions import csrf
from marketplace.transactions import after_commit, run_after_commit


def _categories(db, slug: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Category)
                             .where(Category.slug == slug))


@pytest.fixture
def views(app, db):
    """Views that add a category, then answer as told; ``ran`` records what their
    after-commit work did."""
    ran: list[str] = []

    @app.post("/_test/add/<slug>/<int:status>")
    def add(slug: str, status: int):
        db.session.add(Category(slug=slug, name_fr=slug, name_en=slug))
        db.session.flush()
        after_commit(db.session, f"test:{slug}", lambda: ran.append(slug))
        if status >= 500:
            raise RuntimeError("a view that fails")
        if status >= 400:
            abort(status)
        return "", status

    csrf.exempt(add)  # a view of this test only: the boundary is what is tested
    return ran


@pytest.mark.parametrize("status", [200, 201, 303])
def test_a_successful_answer_commits_once_then_runs_what_it_queued(app, db, views, status):
    assert app.test_client().post(f"/_test/add/kept-{status}/{status}").status_code == status
    assert _categories(db, f"kept-{status}") == 1
    assert views == [f"kept-{status}"]


@pytest.mark.parametrize("status", [400, 403, 409])
def test_a_refusal_rolls_back_and_runs_nothing(app, db, views, status):
    assert app.test_client().post(f"/_test/add/refused/{status}").status_code == status
    assert _categories(db, "refused") == 0
    assert views == []


def test_an_error_rolls_back_and_runs_nothing(app, db, views):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().post("/_test/add/broken/500").status_code == 500
    assert _categories(db, "broken") == 0
    assert views == []


def test_queued_work_waits_for_the_outermost_commit(app, db):
    ran: list[str] = []
    db.session.add(Category(slug="kept", name_fr="x", name_en="x"))
    db.session.flush()
    after_commit(db.session, "outer", lambda: ran.append("outer"))
    with db.session.begin_nested():
        after_commit(db.session, "inner", lambda: ran.append("inner"))
    assert run_after_commit(db.session) == 0  # a savepoint is not a commit
    db.session.commit()
    assert run_after_commit(db.session) == 2
    assert ran == ["outer", "inner"]
    assert run_after_commit(db.session) == 0  # once


def test_a_rollback_drops_what_was_queued(app, db):
    ran: list[str] = []
    db.session.add(Category(slug="dropped", name_fr="x", name_en="x"))
    db.session.flush()
    after_commit(db.session, "dropped", lambda: ran.append("dropped"))
    db.session.rollback()
    db.session.commit()
    assert run_after_commit(db.session) == 0
    assert ran == []


def test_one_function_per_key(app, db):
    ran: list[int] = []
    after_commit(db.session, "same", lambda: ran.append(1))
    after_commit(db.session, "same", lambda: ran.append(2))
    db.session.commit()
    run_after_commit(db.session)
    assert ran == [2]
