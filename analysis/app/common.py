"""Pieces every view uses: the error line and a figure with its explanation beside it."""

from __future__ import annotations

import streamlit as st

from analysis.app import engine


def show_error(err: Exception) -> None:
    """A mistake as the CLI's one line, in the page (never a traceback for a bad value)."""
    st.error(engine.error_line(err), icon=":material/error:")


def show_figure(fig: engine.Figure, explanation: str = "") -> None:
    """A figure drawn by ``analysis.figures``, its caption, and a plain-language note beside it."""
    st.subheader(fig.title)
    if fig.png is None:
        st.info(f"Not drawn: {fig.caption}")
        return
    left, right = st.columns([3, 2]) if explanation else (st.container(), None)
    left.image(fig.png, width="stretch")
    if fig.caption:
        left.caption(fig.caption)
    if right is not None:
        right.markdown(explanation)
