"""`python -m app.migration NAME` (`make migration name=NAME`): write the next aerich migration.

aerich writes a migration by comparing the models with the last one, in the
SQL of the database it is connected to: the migrations in `migrations/` are
PostgreSQL's (the app applies none on SQLite, which builds its schema from the
models). On SQLite aerich fails with a traceback (`TypeError: 'NoneType' object
is not iterable`); here that is one line saying what to run instead, as is a
missing name. Both exit with status 2, as a wrong setting does.
"""

from __future__ import annotations

import os
import re
import shutil
import sys

from app.settings import load_settings
from app.settings_errors import EXIT_SETTINGS, SettingsError, report_settings_error

# What aerich puts in the file name after the number and the time.
NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
EXAMPLE = "DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DATABASE make migration name="


def main(argv: list[str]) -> int:
    name = argv[0].strip() if argv else ""
    if not name and len(argv) <= 1:
        print(
            "qari: name the migration: make migration name=add_x (letters, digits and _)",
            file=sys.stderr,
        )
        return EXIT_SETTINGS
    if not NAME.fullmatch(name) or len(argv) > 1:
        print(
            f"qari: the migration name {' '.join(argv)[:80]!r} is not valid:"
            " use up to 64 letters, digits and _ (make migration name=add_x)",
            file=sys.stderr,
        )
        return EXIT_SETTINGS
    try:
        settings = load_settings()
    except SettingsError as error:
        return report_settings_error(error)
    if settings.is_sqlite:
        print(
            "qari: migrations are written against PostgreSQL, and DATABASE_URL is SQLite:"
            " run it on a PostgreSQL database brought up to date first (make upgrade),"
            f" e.g. {EXAMPLE}{name}",
            file=sys.stderr,
        )
        return EXIT_SETTINGS
    aerich = shutil.which("aerich", path=os.path.dirname(sys.executable)) or "aerich"
    # aerich reads DATABASE_URL through app.database.TORTOISE_ORM, as the app does.
    os.execv(aerich, [aerich, "migrate", "--name", name])  # noqa: S606 - replaces this process
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
