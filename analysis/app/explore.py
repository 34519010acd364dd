"""Explore view: open a saved run directory and browse its report, figures and tables."""

from __future__ import annotations

import streamlit as st
import streamlit.components.v1 as components

from analysis.app import engine
from analysis.app.common import show_error, show_figure

MAX_ROWS = 5000  # rows of a table shown in the page (the whole table is in the run directory)


def render() -> None:
    """The explore view."""
    st.title("Explore a run")
    st.markdown("Open a run directory written by `alliance-sim`, `make run` or the plan view (a path on the "
                "machine that serves this page), and browse its report, figures and tables.")
    latest = engine.latest_run()
    path = st.sidebar.text_input("Run directory", value=str(latest) if latest else "", key="explore_path",
                                 placeholder="outputs/2026-01-01/12-00-00")
    if not path.strip():
        st.info("Type the path of a run directory in the sidebar.")
        return
    try:
        ex = engine.explore(path.strip())
    except Exception as err:
        show_error(err)
        return
    run = ex.run
    m = run.manifest
    st.caption(f"Experiment **{run.experiment}**; scenarios {', '.join(run.scenarios)} (baseline {run.baseline}); "
               f"{run.replications} replications; seed {run.seed}; created {m.get('created', '?')}.")
    report, figures, tables = st.tabs(["Report", "Figures", "Tables"])
    with report:
        if ex.report_html:
            components.html(ex.report_html, height=900, scrolling=True)
        else:
            st.info("This run has no report.html yet.")
            if st.button("Build the report (python -m analysis report)", key="explore_build"):
                from analysis.report import build_report

                with st.spinner("Drawing figures and writing the report..."):
                    build_report(run.run_dir)
                st.rerun()
    with figures:
        if not ex.figures:
            st.info("No figures in this run directory (build the report first).")
        for fig in ex.figures:
            show_figure(fig)
    with tables:
        name = st.selectbox("Table", ex.tables, key="explore_table")
        if name:
            df = run.tables[name]
            st.caption(f"{len(df):,} rows" + (f"; the first {MAX_ROWS:,} shown" if len(df) > MAX_ROWS else ""))
            st.dataframe(df.head(MAX_ROWS), hide_index=True)
