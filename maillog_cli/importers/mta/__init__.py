"""Mail servers' own logs (Postfix, Exim, journald): lines → `MtaLine` facts → correlated events.

Reading is pure (`lines`, `postfix`, `exim`, `journald` never touch the store). The
correlation by queue id (`correlate`) starts from the partial state kept in the store
(`store.mta_state`), so a message split across rotated files, separate imports or a
followed log is still one message; it never writes the store itself but hands over
event rows and compact op tuples, so it runs in-process or in the forked parser of a big
file (ingest/forked.py) with the same result.
"""
