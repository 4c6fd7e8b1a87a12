"""The Textual browser (`maillog tui`): the only package that imports Textual.

`data.py` and `cells.py` are plain Python (store reads, Rich cells) so they can be
tested and reused without a terminal; `app.py`, `screens/` and `widgets/` are Textual.
"""
