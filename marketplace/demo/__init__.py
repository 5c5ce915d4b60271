"""Demo data for Circuit Court: `flask seed-demo`.

Two sizes:

* ``demo`` (default): a believable territory around Vannes (Morbihan): 30 farms in
  real communes with French product catalogues, plus one account of every role,
  with fixed passwords (see docs/demo.md).
* ``large``: thousands of synthetic farms spread over mainland France and a
  hundred thousand products, inserted with SQLAlchemy Core in batches, for
  benchmarks (bench/catalogue.py).

Modules: ``products`` (product templates per farm type), ``territory`` (communes
and farms around Vannes, demo accounts), ``france`` (mainland outline and towns
for the large set), ``seed`` (the writing), ``cli`` (the command).
"""
