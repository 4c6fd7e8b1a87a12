"""Where the store and the config live: --db, $MAILLOG_DB, else the user data dir."""

from __future__ import annotations

import os
from pathlib import Path


def default_db_path() -> Path:
    env = os.environ.get("MAILLOG_DB")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("maillog", appauthor=False)) / "maillog.db"


def config_path() -> Path:
    env = os.environ.get("MAILLOG_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("maillog", appauthor=False)) / "config.toml"
