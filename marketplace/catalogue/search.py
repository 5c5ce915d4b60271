"""Catalogue text search: an indexed substring match on product and farm names.

What matches: the buyer's text, without its leading and trailing spaces, found
anywhere in a product's name or in its farm's name, ignoring case and accents.
Both sides are *folded* first by one fixed table, FOLD: A-Z to a-z, the accented
Latin letters of French and its neighbours to their base letters (é -> e, Ç -> c,
œ -> oe, ß -> ss), and the combining accents of decomposed text dropped. Every
other character is plain text: % _ \\ ' " included, and letters outside the table
(Greek, Cyrillic, ł...) match as typed, case included. The fold is the same in
Python (the query), SQLite and PostgreSQL (the triggers), and depends on no
locale, so both databases return the same rows.

Each searched table (products, producers) has a search table, <table>_search
(id, name): one row per row, holding the folded name. Triggers keep it in step
with its table: ORM writes, Core bulk inserts, COPY, cascading deletes alike.

SQLite: the search table is indexed by an FTS5 table <table>_search_fts with the
trigram tokenizer (SQLite 3.34 or later), external content (the names are kept
once, in the search table), case_sensitive 1 (the text is folded already). Row
triggers fill both; their fold is nested replace() calls. A query of 3 folded
characters or more is one FTS5 phrase (the whole text between double quotes,
inner ones doubled, bound as a parameter), which the trigram index answers as an
exact substring match. Shorter queries have no trigram: they scan the search
table with LIKE, as do all queries on a SQLite without the trigram tokenizer
(where there is no FTS5 table).

PostgreSQL: the search table has a GIN index (name gin_trgm_ops) from the pg_trgm
extension (trusted since PostgreSQL 13: the database owner may create it), and is
filled by statement triggers (transition tables: one INSERT ... SELECT for a COPY
of 100,000 rows) through the SQL function catalogue_search_fold(text). The query
is name LIKE '%...%' with LIKE's wildcards escaped, which pg_trgm answers from the
index. The fold is stored rather than indexed as an expression: a fold in SQL
costs microseconds a row, too much for rechecking thousands of candidate rows or
for the scans of short queries.

The OR over two tables is split so that each side uses its own index: products
whose name matches, and products of farms whose name matches (name_matches() has
the shape each database plans best).

Where the objects come from: for create_all() (the tests, the benchmark), the
after_create listeners below, registered when this module is imported (services.py
imports it; create_app imports services through the routes); for databases made
by `flask db upgrade`, the migration "catalogue text search", which has its own
frozen copy of this DDL (tests/test_search.py checks that both make the same
objects). They are not in the models' metadata: include_name() tells Alembic's
comparison to leave them alone.

On SQLite, a batch migration that rebuilds products or producers (copy, drop,
rename) loses their triggers with the old table, and that test fails: such a
migration must make the triggers again (a copy of the statements that
sqlite_statements() gives).
"""

# The SQL written out here is made of constants only (table names, the FOLD table);
# the buyer's text reaches the database as a bound parameter, nowhere else.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from sqlalchemy import event

from marketplace.catalogue.models import Product
from marketplace.producers.models import Producer

# (characters, what each becomes). Every replacement is lower-case ASCII, which no
# entry replaces again, so applying the entries one after another (nested SQL
# replace()) gives the same text as applying them all at once (str.translate).
_FOLD_GROUPS = (
    ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", None),  # each to its lower-case letter
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
    # Decomposed (NFD) text: the combining accents of the letters above.
    ("\u0300\u0301\u0302\u0303\u0308\u030a\u0327", ""),
)
FOLD: dict[str, str] = {
    char: (char.lower() if to is None else to)
    for chars, to in _FOLD_GROUPS
    for char in chars
}
_FOLD_TRANSLATION = str.maketrans(FOLD)
# In SQL, lower() does A-Z: SQLite's lower() (without the ICU extension) and
# PostgreSQL's lower() under COLLATE "C" change ASCII letters only.
_ACCENTS = [(c, t) for c, t in FOLD.items() if not "A" <= c <= "Z"]

MIN_TRIGRAM_CHARS = 3
PG_FOLD_FUNCTION = "catalogue_search_fold"
SEARCHED = ("products", "producers")


def fold(text: str) -> str:
    return text.translate(_FOLD_TRANSLATION)


def search_table(table: str) -> str:
    return f"{table}_search"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sqlite_has_trigram() -> bool:
    """FTS5 with the trigram tokenizer (SQLite 3.34, 2020) in this sqlite3 module."""
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


SQLITE_TRIGRAM = _sqlite_has_trigram()


# SQLite DDL ----------------------------------------------------------------------------

# SQLite's parser stack (100 entries before 3.46) overflows at about 30 nested
# calls, so the replace() calls go 12 to a level of nested subqueries, which the
# query planner flattens again.
_SQLITE_REPLACES_PER_LEVEL = 12


def sqlite_folded(source: str) -> str:
    """SELECT id, x: the folded text of the x of `source`.

    `source`: a subquery with columns id and x, e.g. "(SELECT id, name AS x FROM t)".
    """
    folded = f"SELECT id, lower(x) AS x FROM {source}"
    for start in range(0, len(_ACCENTS), _SQLITE_REPLACES_PER_LEVEL):
        expression = "x"
        for char, to in _ACCENTS[start:start + _SQLITE_REPLACES_PER_LEVEL]:
            expression = f"replace({expression}, {_sql_string(char)}, {_sql_string(to)})"
        folded = f"SELECT id, {expression} AS x FROM ({folded})"
    return folded


def sqlite_statements(table: str, *, trigram: bool) -> list[str]:
    search = search_table(table)
    fts = f"{search}_fts"
    folded = sqlite_folded("(SELECT new.id AS id, new.name AS x)")
    insert = f"INSERT INTO {search} (id, name) {folded};"
    delete = f"DELETE FROM {search} WHERE id = old.id;"
    statements = [
        f"CREATE TABLE IF NOT EXISTS {search} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    ]
    if trigram:
        # The trigram index of the search table (external content: the names are
        # stored once, in the search table); columnsize=0: nothing is ranked.
        statements.append(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(name, content='{search}', "
            "content_rowid='id', columnsize=0, tokenize='trigram case_sensitive 1')"
        )
        insert += f" INSERT INTO {fts} (rowid, name) SELECT id, name FROM {search} " \
                  "WHERE id = new.id;"
        # An external content index forgets a row when told the text it indexed.
        delete = (f"INSERT INTO {fts} ({fts}, rowid, name) SELECT 'delete', id, name "
                  f"FROM {search} WHERE id = old.id; {delete}")
    return [
        *statements,
        f"CREATE TRIGGER IF NOT EXISTS {search}_insert AFTER INSERT ON {table} "
        f"BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {search}_update AFTER UPDATE OF id, name ON {table} "
        f"BEGIN {delete} {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {search}_delete AFTER DELETE ON {table} "
        f"BEGIN {delete} END",
    ]


def sqlite_reindex_statements(table: str, *, trigram: bool) -> list[str]:
    search = search_table(table)
    folded = sqlite_folded(f"(SELECT id, name AS x FROM {table})")
    statements = [f"DELETE FROM {search}", f"INSERT INTO {search} (id, name) {folded}"]
    if trigram:
        statements.append(f"INSERT INTO {search}_fts ({search}_fts) VALUES ('rebuild')")
    return statements


def sqlite_drop_statements(table: str) -> list[str]:
    # The triggers go with their table.
    search = search_table(table)
    return [f"DROP TABLE IF EXISTS {search}_fts", f"DROP TABLE IF EXISTS {search}"]


# PostgreSQL DDL ------------------------------------------------------------------------

def _pg_fold_expression(argument: str) -> str:
    expression = f'lower({argument} COLLATE "C")'
    for char, to in _ACCENTS:
        expression = f"replace({expression}, {_sql_string(char)}, {_sql_string(to)})"
    return expression


def postgresql_function_statements() -> list[str]:
    return [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        f"CREATE OR REPLACE FUNCTION {PG_FOLD_FUNCTION}(text) RETURNS text "
        f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {_pg_fold_expression('$1')} $$",
    ]


def postgresql_statements(table: str) -> list[str]:
    search = search_table(table)
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
            SELECT id, {PG_FOLD_FUNCTION}(name) FROM (SELECT id, name FROM new_rows
                                                 EXCEPT SELECT id, name FROM old_rows) AS changed;
    ELSE
        INSERT INTO {search} (id, name) SELECT id, {PG_FOLD_FUNCTION}(name) FROM new_rows;
    END IF;
    RETURN NULL;
END"""
    statements = [
        *postgresql_function_statements(),
        f"CREATE TABLE IF NOT EXISTS {search} "
        f"(id integer CONSTRAINT pk_{search} PRIMARY KEY, name text NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS ix_{search}_name ON {search} USING gin (name gin_trgm_ops)",
        f"CREATE OR REPLACE FUNCTION {sync}() RETURNS trigger LANGUAGE plpgsql AS $${body}\n$$",
    ]
    # Statement triggers with transition tables: a COPY of 100,000 rows is one
    # INSERT ... SELECT here. (A trigger with transition tables has one event.)
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
    return statements


def postgresql_reindex_statements(table: str) -> list[str]:
    search = search_table(table)
    return [
        f"DELETE FROM {search}",
        f"INSERT INTO {search} (id, name) SELECT id, {PG_FOLD_FUNCTION}(name) FROM {table}",
    ]


def postgresql_drop_statements(table: str) -> list[str]:
    search = search_table(table)
    return [
        *(f"DROP TRIGGER IF EXISTS {search}_{op} ON {table}"
          for op in ("insert", "update", "delete")),
        f"DROP FUNCTION IF EXISTS {search}_sync()",
        f"DROP TABLE IF EXISTS {search}",
    ]


# create_all() and drop_all() ------------------------------------------------------------

def _trigram_is(wanted: bool):
    # Read when the DDL runs, not at import, so that a test may turn it off.
    return lambda ddl, target, bind, **kw: SQLITE_TRIGRAM is wanted


def _register_ddl() -> None:
    """create_all() and drop_all() make and drop the search objects with the tables.

    A table just made is empty: its search table is emptied too, in case an old
    one outlived its table.
    """
    for model in (Producer, Product):
        table = model.__table__
        for trigram in (True, False):
            for statement in (sqlite_statements(table.name, trigram=trigram)
                              + sqlite_reindex_statements(table.name, trigram=trigram)):
                event.listen(table, "after_create", sa.DDL(statement).execute_if(
                    dialect="sqlite", callable_=_trigram_is(trigram)))
        for statement in (postgresql_statements(table.name)
                          + postgresql_reindex_statements(table.name)):
            event.listen(
                table, "after_create", sa.DDL(statement).execute_if(dialect="postgresql")
            )
        # Dropped with their table, or the next create_all would find the old rows.
        for statement in sqlite_drop_statements(table.name):
            event.listen(table, "after_drop", sa.DDL(statement).execute_if(dialect="sqlite"))
        for statement in postgresql_drop_statements(table.name):
            event.listen(
                table, "before_drop", sa.DDL(statement).execute_if(dialect="postgresql")
            )
    event.listen(Producer.__table__, "after_drop", sa.DDL(
        f"DROP FUNCTION IF EXISTS {PG_FOLD_FUNCTION}(text)").execute_if(dialect="postgresql"))


_register_ddl()

# The search tables, SQLite's FTS5 index tables and their shadow tables.
_SEARCH_TABLE_NAMES = frozenset(
    search_table(table) + suffix
    for table in SEARCHED
    for suffix in ("", "_fts", "_fts_data", "_fts_idx", "_fts_content", "_fts_docsize",
                   "_fts_config")
)


def include_name(name, type_, parent_names) -> bool:
    """Alembic's include_name hook: leave out the search tables (not in the models)."""
    return not (type_ == "table" and name in _SEARCH_TABLE_NAMES)


# Queries --------------------------------------------------------------------------------

def _like_pattern(folded: str) -> str:
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching_ids(table: str, folded: str, dialect_name: str):
    """SELECT of the ids of `table` rows whose folded name contains `folded`."""
    search = search_table(table)
    if dialect_name == "sqlite" and SQLITE_TRIGRAM and len(folded) >= MIN_TRIGRAM_CHARS:
        fts = sa.table(f"{search}_fts", sa.column("rowid", sa.Integer), sa.column("name"))
        # One FTS5 phrase: the whole text between double quotes, inner ones doubled.
        phrase = '"' + folded.replace('"', '""') + '"'
        return sa.select(fts.c.rowid).where(fts.c.name.op("MATCH")(phrase))
    # PostgreSQL (the trigram index serves LIKE), or too short for trigrams: LIKE.
    names = sa.table(search, sa.column("id", sa.Integer), sa.column("name"))
    return sa.select(names.c.id).where(names.c.name.like(_like_pattern(folded), escape="\\"))


def name_matches(query: str, dialect_name: str):
    """WHERE clause on Product: its name or its farm's name contains `query`.

    None when the query is blank (no filter).
    """
    query = query.strip()
    if not query:
        return None
    folded = fold(query)
    products = _matching_ids("products", folded, dialect_name)
    producers = _matching_ids("producers", folded, dialect_name)
    if dialect_name == "sqlite":
        # SQLite does best with one list of product ids (its OR of two IN lists is
        # 1.5 times slower on 100,000 products when a short query matches most).
        of_farms = Product.__table__.alias("of_matching_farm")
        return Product.id.in_(sa.union_all(
            products, sa.select(of_farms.c.id).where(of_farms.c.producer_id.in_(producers))
        ))
    # PostgreSQL does best with the OR (two hashed subplans; one IN list of a UNION
    # is several times slower when a short query matches most).
    return sa.or_(Product.id.in_(products), Product.producer_id.in_(producers))
