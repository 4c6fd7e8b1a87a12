"""One module per command (cli.COMMANDS registers them); what several of them share."""

from __future__ import annotations


def survive_closed_peers() -> None:
    """Ignore SIGPIPE again, for a command that writes to network sockets.

    `main()` gives SIGPIPE its default action so that `maillog search | head` ends
    quietly, but the same signal comes when a socket's peer has gone: an SMTP server or a
    webhook endpoint that closes early, a client that resets its request, and the process
    died on the spot, silently (exit 141), with nothing recorded. Ignored, it is an
    OSError each command reports; its own output to a closed pipe still ends it quietly
    (main() catches BrokenPipeError).
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
