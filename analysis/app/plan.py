"""Plan view: a reference or your own service file, a staffing/turnover/policy plan, the differences it makes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import streamlit as st

from analysis.app import engine
from analysis.app.common import show_error, show_figure

INTRO = ("Compare the **current** service with a **plan** that changes staffing, staff turnover or the "
         "policies for moving patients between clinicians. Both run on the same referrals and the same "
         "clinicians with the same random numbers, so the differences are due to the plan alone. Start from a "
         "reference service or load your own service file (the YAML you would write for `configs/service/`).")
WAITING = ("**Waiting list over time.** The number of patients referred and not yet seen, averaged over the "
           "replications, for the current service and the plan. The dashed line is the end of the warm-up: only "
           "the period after it is measured.")


def _policies() -> tuple[list[str], list[str]]:
    from simulation.policies import ON_LEAVE, REASSIGNMENT

    return sorted(REASSIGNMENT), sorted(ON_LEAVE)


def service_file() -> tuple[tuple[str, ...], str]:
    """Overrides from an uploaded or named service file (and its name), or none."""
    sb = st.sidebar
    up = sb.file_uploader("Your service file (YAML, optional)", type=["yaml", "yml"], key="plan_upload",
                          help="A file like configs/service/community_team.yaml; keys it leaves out keep the "
                               "reference's values. It may also hold sections (service:, turnover:, policy: ...).")
    path = sb.text_input("...or its path on this machine", key="plan_path", placeholder="configs/service/template.yaml")
    if up is not None:
        return tuple(engine.service_file_overrides(up.getvalue().decode("utf-8", "replace"), up.name)), up.name
    if path.strip():
        p = Path(path.strip()).expanduser()
        if not p.is_file():
            from simulation.errors import ConfigError

            raise ConfigError("service file", str(p), "a YAML file on this machine")
        return tuple(engine.service_file_overrides(p.read_text(), p.name)), p.name
    return (), ""


def controls():
    """The sidebar controls; returns (settings or None on a bad value, Run pressed)."""
    sb = st.sidebar
    sb.subheader("The service")
    ref = sb.selectbox("Start from", list(engine.REFERENCES), format_func=engine.REFERENCES.get,
                       key="plan_reference")
    with sb.expander("More settings (key=value, as on the command line)"):
        text = st.text_input("Extra settings for both scenarios", key="plan_extra",
                             placeholder="e.g. service.referrals_per_week=4")
    try:
        file_over, file_name = service_file()
        extra = engine.parse_settings(text)
        current = engine.PlanSettings(reference=ref, service_file=file_over, extra=extra)
        cfg = engine.base_config(current.source())
    except Exception as err:
        show_error(err)
        return None, False
    if file_over:
        with st.expander(f"What {file_name} sets (as command-line overrides)"):
            st.code("\n".join(file_over), language=None)
    sb.subheader("The plan")
    posts = []
    for name, n in engine.staffing(cfg):
        posts.append(sb.number_input(f"Posts: {name.replace('_', ' ')}", 1, 1000, n, 1,
                                     key=f"plan_posts_{ref}_{file_name}_{name}"))
    rate = float(engine.get_value(cfg, engine.KEYS["turnover"]))
    turnover = sb.slider("Staff turnover (% of clinicians leaving per year)", 0, 60, int(round(100 * rate)), 5,
                         key=f"plan_turnover_{ref}_{file_name}")
    reassign, on_leave = _policies()
    cur_r = engine.get_value(cfg, engine.KEYS["reassignment"])
    cur_l = engine.get_value(cfg, engine.KEYS["on_leave"])
    r = sb.selectbox("Reassignment policy (when to move a patient to another clinician)", reassign,
                     index=reassign.index(cur_r) if cur_r in reassign else 0, key="plan_reassignment")
    leave = sb.selectbox("When a clinician leaves, their patients...", on_leave,
                         index=on_leave.index(cur_l) if cur_l in on_leave else 0, key="plan_on_leave",
                         format_func=lambda v: {"reassign": "reassign: move to a colleague at once",
                                                "hold": "hold: wait for the replacement"}.get(v, v))
    reps = sb.number_input("Replications", 2, 100, engine.PLAN_REPLICATIONS, 1, key="plan_reps")
    seed = sb.number_input("Seed", 1, 2**31 - 1, int(engine.get_value(cfg, engine.KEYS["seed"])), 1, key="plan_seed")
    pressed = sb.button("Run", type="primary", key="plan_run", width="stretch")
    settings = engine.PlanSettings(reference=ref, service_file=file_over, extra=extra,
                                   posts=tuple(int(p) for p in posts), turnover=turnover / 100.0, reassignment=r,
                                   on_leave=leave, replications=int(reps), seed=int(seed))
    return settings, pressed


def render() -> None:
    """The plan view."""
    st.title("Plan: what if?")
    st.markdown(INTRO)
    settings, pressed = controls()
    if settings is None:
        return
    try:
        changes = engine.plan_overrides(settings, engine.base_config(settings.source()))
    except Exception as err:
        show_error(err)
        return
    st.markdown("**The plan changes:** " + (", ".join(f"`{c}`" for c in changes) if changes else
                                            "nothing yet (both scenarios are the current service)"))
    if pressed:
        run(settings)
    failed = st.session_state.get("plan_error")
    if failed and failed[0] == settings:  # shown while the settings that caused it stay
        show_error(failed[1])
        return
    res = st.session_state.get("plan_result")
    if res is not None:
        show(res)


def run(settings: engine.PlanSettings) -> None:
    """Run the plan into a fresh temporary directory, with a progress bar."""
    old = st.session_state.pop("plan_workdir", None)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    work = tempfile.mkdtemp(prefix="alliance-sim-plan-")
    st.session_state["plan_workdir"] = work
    bar = st.progress(0.0, text="starting")
    try:
        res = engine.run_plan(settings, Path(work), lambda f, t: bar.progress(min(1.0, f), text=t))
    except Exception as err:
        st.session_state["plan_error"] = (settings, err)
        st.session_state.pop("plan_result", None)
    else:
        st.session_state["plan_result"] = res
        st.session_state.pop("plan_error", None)
    bar.empty()


def show(res: engine.PlanResult) -> None:
    """Differences, waiting list over time, and the run directory to download."""
    st.caption(f"Ran in {res.seconds:.0f} s. The same run from the command line, in the unzipped directory "
               f"(it holds what_if.yaml, the experiment file): `{res.command}`")
    st.download_button("Download the run directory (tables, report, figures) as a zip", res.zip_bytes,
                       file_name=f"{res.run_dir.parent.name}.zip", mime="application/zip", key="plan_download")
    st.subheader("Plan minus current")
    st.dataframe(res.differences, hide_index=True)
    with st.expander("Each scenario with its 95% interval"):
        st.dataframe(res.kpis, hide_index=True)
    for fig in res.figures:
        show_figure(fig, WAITING if fig.name == engine.FIGURES["service"] else "")
