"""Where the store and the config live: --db, $MAILLOG_DB, else the user data dir."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir_db_path() -> Path:
    """The store's home when the user names none: the one path whose missing directories
    maillog creates itself (a path the user names is refused when its directory is missing,
    as sqlite3 and git refuse one, so a typo never leaves a tree of empty directories)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("maillog", appauthor=False)) / "maillog.db"


def default_db_path() -> Path:
    env = os.environ.get("MAILLOG_DB")
    if env:
        return Path(env).expanduser()
    return data_dir_db_path()


def config_path() -> Path:
    env = os.environ.get("MAILLOG_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("maillog", appauthor=False)) / "config.toml"
