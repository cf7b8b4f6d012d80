"""`python -m app.upgrade` (`make upgrade`): apply aerich's migrations, on PostgreSQL only.

aerich's migrations are PostgreSQL SQL; run against SQLite they fail half-way
(`near "COMMENT"`) and leave a PostgreSQL-flavoured table behind. The SQLite
default builds its schema from the models at start-up instead, so there is
nothing to do there, and nothing is touched.
"""

from __future__ import annotations

import os
import shutil
import sys

from app.settings import load_settings
from app.settings_errors import SettingsError, report_settings_error


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as error:
        return report_settings_error(error)
    if settings.is_sqlite:
        print(
            "qari: DATABASE_URL is SQLite: its schema is built from the models when the app"
            " starts, so `make upgrade` is not needed there. Nothing was changed."
        )
        return 0
    aerich = shutil.which("aerich", path=os.path.dirname(sys.executable)) or "aerich"
    # aerich reads DATABASE_URL through app.database.TORTOISE_ORM, as the app does.
    os.execv(aerich, [aerich, "upgrade"])  # noqa: S606 - replaces this process, no shell
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
