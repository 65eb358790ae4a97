"""The catalog database: every query tapesched makes, as plain SQL, and nothing else.

- `db`         one open database: connection, transactions, how values are stored,
               errors turned into StorageUnavailable (exit 5); the meta table.
- `schema`     creates the tables from the SQLModel models (tapesched.models).
- `tasks`      the tasks table: TaskRecord, lookups, inserts, updates, the due index.
- `executions` the executions table: ExecutionRecord, claims, starts, outcomes, history.
- `catalog`    what the actions and the metrics read: backup chains, cleanup, checks.

Only the standard library's sqlite3 is used here, so that `tick` and the runner,
which start every minute, pay for no ORM; the schema itself is defined once, by
the SQLModel tables, and created through SQLAlchemy by `schema` alone. This
package imports nothing heavy: import its modules directly.
"""
