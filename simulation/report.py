"""The short summary the command line prints after a run."""

from __future__ import annotations

import pandas as pd

from .runner import Results

COLUMNS = [
    ("referred", "referred", "{:.0f}"),
    ("started", "started", "{:.0f}"),
    ("dropout_rate", "dropout %", "{:.1%}"),
    ("recovery_rate", "recovery %", "{:.1%}"),
    ("mean_sessions", "mean sessions", "{:.1f}"),
    ("mean_wait_weeks", "mean wait (weeks)", "{:.1f}"),
]


def summary_frame(res: Results) -> pd.DataFrame:
    k = res.tables["kpis"]
    order = [s.name for s in res.scenarios]
    means = k.groupby("scenario", sort=False)[[c for c, _, _ in COLUMNS]].mean().reindex(order)
    return means


def print_summary(res: Results) -> None:
    means = summary_frame(res)
    n = int(res.tables["kpis"].groupby("scenario").size().iloc[0])
    table = pd.DataFrame({label: [fmt.format(v) for v in means[col]] for col, label, fmt in COLUMNS},
                         index=means.index)
    table.index.name = "scenario"
    print(f"\nMeans over {n} replication(s), measured patients only "
          f"(rates over those who started and ended treatment):")
    print(table.to_string())
    if res.scenarios and res.scenarios[0].config.run.parameters == "posterior":
        print("Parameters: posterior draws (run.parameters=posterior): replication r uses draw r; "
              "intervals include parameter uncertainty.")
    if res.run_dir is not None:
        print(f"\nTables, manifest{' and report' if True else ''}: {res.run_dir}")
