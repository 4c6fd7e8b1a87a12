"""Alert rules over the store: load and validate them (rules), count windows (metrics),
judge them and say what changed (evaluate), remember what was sent (state), send (notify),
and evaluate continuously (watch). Core code: nothing here prints."""
