"""The catalog database: every query tapesched makes, as plain SQL, and nothing else.

- `db`         one open database: connection, transactions, how values are stored,
               errors turned into StorageUnavailable (exit 5), the revision check; meta.
- `sqlite`     the embedded catalog: one SQLite file, created whole.
- `postgres`   a catalog shared by several hosts: psycopg, `:name` as `%(name)s`.
- `schema`     creates and upgrades the schema: the Alembic revisions (tapesched/migrations).
- `tasks`      the tasks table: TaskRecord, lookups, inserts, updates, the due index.
- `executions` the executions table: ExecutionRecord, claims, starts, leases, outcomes.
- `hosts`      the hosts table: each host's last tick.
- `catalog`    what the actions and the metrics read: backup chains, cleanup, checks.

Each query is written once for both backends. `tick` and the runner, which start every
minute, pay for no ORM: the store speaks through sqlite3 or psycopg, and only `schema`
imports SQLAlchemy and Alembic, when a schema is made or upgraded. This package imports
nothing heavy: import its modules directly.
"""
