"""Where the store and the config live: --db, $MAILLOG_DB, else the user data dir; and where
a file maillog writes lands (write_target)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from maillog_cli.errors import MaillogError


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


HINT = "give the name of a new or regular file"


def names_a_folder(text: str) -> bool:
    """Whether a file name given on the command line ends in a slash: Path() drops it, and
    `--archive backups/` wrote a FILE named backups."""
    return text.endswith(("/", os.sep))


def write_target(target: str | Path, into_special: bool = False) -> Path:
    """The path to write for `target`: its real path when it is a symbolic link to a file.

    The one rule for `export -o`, `prune --archive`, `import --rejects`, `db backup` and
    `demo --out`. A finished file is renamed into place; onto a symbolic link that rename
    replaced the link itself (a dangling one became a file where the link was), and a
    write through a link went somewhere never named on the command line. So a link to a
    file stands for that file (the file is replaced, the link stays, the file's path is
    reported); a dangling link, a directory and (unless the caller writes straight into
    one) a named pipe or device are refused before anything is written.

    Raises MaillogError for a name ending in a slash, a directory (or a link to one), a
    dangling or looping link, and a named pipe or device unless `into_special` (the caller
    then writes straight into it, as into stdout)."""
    text = str(target)
    if isinstance(target, str) and names_a_folder(text):
        raise MaillogError(f"{text} names a directory", f"{HINT}, e.g. {text.rstrip('/')}/FILE")
    path = Path(target)
    if path.is_symlink():
        try:
            real = Path(os.path.realpath(path, strict=True))
        except (OSError, RuntimeError):
            real = Path(os.path.realpath(path))
            raise MaillogError(
                f"{path} is a symbolic link to {real}, which does not exist; nothing written",
                "give the file's own path, or remove the link",
            ) from None
        path = real
    if path.is_dir():
        raise MaillogError(f"{text} is a directory; nothing written", HINT)
    try:
        mode = path.stat().st_mode
    except OSError:
        return path  # a new file: its folder's own errors are the writer's to say
    if not stat.S_ISREG(mode) and not into_special:
        raise MaillogError(
            f"{text} is not a regular file (a named pipe or device); nothing written", HINT
        )
    return path


def shown_target(target: str | Path) -> str:
    """`target` as a report names it: with the file it stands for when it is a symbolic
    link, so a write through a link never lands somewhere unsaid."""
    path = Path(target)
    if str(target) == "-" or not path.is_symlink():
        return str(target)
    return f"{target} (a link to {os.path.realpath(path)})"
