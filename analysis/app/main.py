"""Entry point of the page: ``streamlit run analysis/app/main.py`` (``make app``)."""

from __future__ import annotations

import streamlit as st

from analysis.app import explore, plan, teach
from analysis.app.common import show_error

VIEWS = {"Teach": teach.render, "Plan": plan.render, "Explore": explore.render}


def main() -> None:
    """Pick a view in the sidebar and draw it."""
    st.set_page_config(page_title="alliance-sim", page_icon=":material/handshake:", layout="wide")
    view = st.sidebar.radio("View", list(VIEWS), key="view", horizontal=True)
    st.sidebar.caption({"Teach": "What repairing ruptures does to dropout.",
                        "Plan": "What if we change staffing, turnover or policies?",
                        "Explore": "Browse a saved run directory."}[view])
    st.sidebar.divider()
    try:
        VIEWS[view]()
    except Exception as err:  # nothing a user does crashes the page: one line, details folded away
        show_error(err)
        with st.expander("Details (for a bug report)"):
            st.exception(err)


main()
