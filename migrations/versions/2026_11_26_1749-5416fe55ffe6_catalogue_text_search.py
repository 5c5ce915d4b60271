"""catalogue text search: search tables of folded names, trigram indexes, triggers

Revision ID: 5416fe55ffe6
Revises: 317efffd0f96
Create Date: 2026-11-26 17:49:00

A frozen copy of the DDL in marketplace/catalogue/search.py at the time of writing
(tests/test_search.py checks that this migration and create_all() make the same
objects). For products and producers, <table>_search (id, folded name) kept by
triggers, indexed by trigrams: on SQLite by an FTS5 table <table>_search_fts (when
this SQLite has the trigram tokenizer), on PostgreSQL by a pg_trgm GIN index.
The rows already there are indexed on the way up.
"""
import sqlite3

from alembic import op

revision = "5416fe55ffe6"
down_revision = "317efffd0f96"
branch_labels = None
depends_on = None

TABLES = ("products", "producers")

_FOLD_GROUPS = (
    ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", None),
    ("àáâãäåÀÁÂÃÄÅ", "a"),
    ("çÇ", "c"),
    ("èéêëÈÉÊË", "e"),
    ("ìíîïÌÍÎÏ", "i"),
    ("ñÑ", "n"),
    ("òóôõöøÒÓÔÕÖØ", "o"),
    ("ùúûüÙÚÛÜ", "u"),
    ("ýÿÝŸ", "y"),
    ("æÆ", "ae"),
    ("œŒ", "oe"),
    ("ß", "ss"),
    ("\u0300\u0301\u0302\u0303\u0308\u030a\u0327", ""),
)
FOLD = {
    char: (char.lower() if to is None else to) for chars, to in _FOLD_GROUPS for char in chars
}
_ACCENTS = [(c, t) for c, t in FOLD.items() if not "A" <= c <= "Z"]


def _sql_string(value):
    return "'" + value.replace("'", "''") + "'"


def _sqlite_has_trigram():
    if sqlite3.sqlite_version_info < (3, 34, 0):
        return False
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return True


# SQLite ------------------------------------------------------------------------------

def _sqlite_folded(source):
    folded = f"SELECT id, lower(x) AS x FROM {source}"
    for start in range(0, len(_ACCENTS), 12):
        expression = "x"
        for char, to in _ACCENTS[start:start + 12]:
            expression = f"replace({expression}, {_sql_string(char)}, {_sql_string(to)})"
        folded = f"SELECT id, {expression} AS x FROM ({folded})"
    return folded


def _sqlite_upgrade(table, trigram):
    search = f"{table}_search"
    fts = f"{search}_fts"
    folded = _sqlite_folded("(SELECT new.id AS id, new.name AS x)")
    insert = f"INSERT INTO {search} (id, name) {folded};"
    delete = f"DELETE FROM {search} WHERE id = old.id;"
    statements = [
        f"CREATE TABLE IF NOT EXISTS {search} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    ]
    if trigram:
        statements.append(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(name, content='{search}', "
            "content_rowid='id', columnsize=0, tokenize='trigram case_sensitive 1')"
        )
        insert += f" INSERT INTO {fts} (rowid, name) SELECT id, name FROM {search} " \
                  "WHERE id = new.id;"
        delete = (f"INSERT INTO {fts} ({fts}, rowid, name) SELECT 'delete', id, name "
                  f"FROM {search} WHERE id = old.id; {delete}")
    statements += [
        f"CREATE TRIGGER IF NOT EXISTS {search}_insert AFTER INSERT ON {table} "
        f"BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {search}_update AFTER UPDATE OF id, name ON {table} "
        f"BEGIN {delete} {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {search}_delete AFTER DELETE ON {table} "
        f"BEGIN {delete} END",
        # The rows already there.
        f"DELETE FROM {search}",
        f"INSERT INTO {search} (id, name) "
        f"{_sqlite_folded(f'(SELECT id, name AS x FROM {table})')}",
    ]
    if trigram:
        statements.append(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")
    return statements


def _sqlite_downgrade(table):
    search = f"{table}_search"
    return [
        *(f"DROP TRIGGER IF EXISTS {search}_{op_}" for op_ in ("insert", "update", "delete")),
        f"DROP TABLE IF EXISTS {search}_fts",
        f"DROP TABLE IF EXISTS {search}",
    ]


# PostgreSQL --------------------------------------------------------------------------

def _pg_fold_expression(argument):
    expression = f'lower({argument} COLLATE "C")'
    for char, to in _ACCENTS:
        expression = f"replace({expression}, {_sql_string(char)}, {_sql_string(to)})"
    return expression


def _pg_upgrade(table):
    search = f"{table}_search"
    sync = f"{search}_sync"
    body = f"""
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM {search} WHERE id IN (SELECT id FROM old_rows);
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM {search} WHERE id IN (
            SELECT id FROM (SELECT id, name FROM old_rows
                            EXCEPT SELECT id, name FROM new_rows) AS changed);
        INSERT INTO {search} (id, name)
            SELECT id, catalogue_search_fold(name) FROM (SELECT id, name FROM new_rows
                                                 EXCEPT SELECT id, name FROM old_rows) AS changed;
    ELSE
        INSERT INTO {search} (id, name) SELECT id, catalogue_search_fold(name) FROM new_rows;
    END IF;
    RETURN NULL;
END"""
    statements = [
        f"CREATE TABLE IF NOT EXISTS {search} "
        f"(id integer CONSTRAINT pk_{search} PRIMARY KEY, name text NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ix_{search}_name ON {search} USING gin (name gin_trgm_ops)",
        f"CREATE OR REPLACE FUNCTION {sync}() RETURNS trigger LANGUAGE plpgsql AS $${body}\n$$",
    ]
    for event_name, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        trigger = f"{search}_{event_name.lower()}"
        statements += [
            f"DROP TRIGGER IF EXISTS {trigger} ON {table}",
            f"CREATE TRIGGER {trigger} AFTER {event_name} ON {table} "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {sync}()",
        ]
    # The rows already there.
    statements += [
        f"DELETE FROM {search}",
        f"INSERT INTO {search} (id, name) SELECT id, catalogue_search_fold(name) FROM {table}",
    ]
    return statements


def _pg_downgrade(table):
    search = f"{table}_search"
    return [
        *(f"DROP TRIGGER IF EXISTS {search}_{op_} ON {table}"
          for op_ in ("insert", "update", "delete")),
        f"DROP FUNCTION IF EXISTS {search}_sync()",
        f"DROP TABLE IF EXISTS {search}",
    ]


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        trigram = _sqlite_has_trigram()
        statements = [s for table in TABLES for s in _sqlite_upgrade(table, trigram)]
    elif dialect == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may
        # create it without being a superuser.
        statements = [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            "CREATE OR REPLACE FUNCTION catalogue_search_fold(text) RETURNS text "
            f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {_pg_fold_expression('$1')} $$",
            *(s for table in TABLES for s in _pg_upgrade(table)),
        ]
    else:
        raise NotImplementedError(f"catalogue search on {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = [s for table in TABLES for s in _sqlite_downgrade(table)]
    elif dialect == "postgresql":
        # pg_trgm stays: other objects may use it, and it costs nothing unused.
        statements = [
            *(s for table in TABLES for s in _pg_downgrade(table)),
            "DROP FUNCTION IF EXISTS catalogue_search_fold(text)",
        ]
    else:
        raise NotImplementedError(f"catalogue search on {dialect}")
    for statement in statements:
        op.execute(statement)
