"""A few snapshots of the main screens at 80×24 and 160×48 (fixed data, no clock)."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from .helpers import settle


@pytest.fixture
def colour_app(make_app, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)  # snapshots keep the status colours
    return make_app


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_emails(colour_app, snap_compare, size) -> None:
    assert snap_compare(colour_app(), terminal_size=size, run_before=settle)


def test_gmail_bounces_filtered_wide(colour_app, snap_compare) -> None:
    assert snap_compare(
        colour_app("status:bounced domain:gmail.com"), terminal_size=(160, 48), run_before=settle
    )


def test_detail(colour_app, snap_compare) -> None:
    async def open_first(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(
        colour_app("status:bounced domain:gmail.com"), terminal_size=(80, 24), run_before=open_first
    )


def test_bounces_tab(colour_app, snap_compare) -> None:
    async def bounces(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(colour_app(), terminal_size=(160, 48), run_before=bounces)


def test_help(colour_app, snap_compare) -> None:
    async def help_(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(colour_app(), terminal_size=(80, 24), run_before=help_)
