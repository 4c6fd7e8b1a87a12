"""Mail servers' own logs (Postfix, Exim, journald): lines → `MtaLine` facts → correlated events.

Reading is pure (`lines`, `postfix`, `exim`, `journald` never touch the store); the
correlation by queue id (`correlate`) runs where the store is, because its partial state
lives there (`store.mta_state`): so a message split across rotated files, separate imports
or a followed log is still one message.
"""
