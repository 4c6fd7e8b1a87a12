"""`maillog serve`: a webhook receiver that writes into the store through the import path.

settings.py (which providers, their secrets from the config file or the environment),
verify.py (one function per provider: is this request really from it?), sns.py (the
SNS signing certificates, fetched only from sns.<region>.amazonaws.com and cached),
body.py (a verified body → parsed items, by the importer the route names), writer.py
(group commit: a 2xx only after the events are committed), metrics.py (counters,
Prometheus text, the minute summary), app.py (the aiohttp routes and the run loop).
"""
