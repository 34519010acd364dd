"""Teach view: move repair skill, training, monitoring and sensitivity; see dropout beside usual care."""

from __future__ import annotations

import math
import secrets
import time

import streamlit as st

from analysis.app import engine
from analysis.app.common import show_error, show_figure

INTRO = ("Each run simulates the same talking-therapy service (reference A) twice over two years, on the **same "
         "patients and clinicians with the same random numbers**: once as usual care, once with your settings. "
         "So any difference is due to your settings alone, and it is estimated replication by replication "
         "(a *paired* interval).")

EXPLAIN = {
    "rupture": ("**Rupture.** A rupture is a strain or break in the working relationship between patient and "
                "clinician. In a *withdrawal* the patient moves away: goes quiet, agrees too readily, changes the "
                "subject. In a *confrontation* the patient moves against: complains about the therapist or the "
                "therapy. Ruptures are common and are not failures in themselves (Safran & Muran 2000; Eubanks, "
                "Muran & Safran 2018)."),
    "repair": ("**Repair.** The clinician notices the rupture and addresses it: names what happened, acknowledges "
               "their part, adjusts the tasks or goals. A repaired rupture restores the relationship. A rupture "
               "that goes unnoticed, or whose repair fails, stays *unresolved*: the alliance keeps eroding, "
               "sessions are missed and dropping out becomes more likely. The curves compare patients by what "
               "happened in their first three sessions."),
    "vshape": ("**V-shape.** When a rupture is repaired, the alliance dips and then climbs back, often a little "
               "above where it was: a V-shaped course. Patients whose alliance follows such a V tend to do better "
               "than those whose alliance never dipped (Stiles et al. 2004). A dip that is never repaired turns "
               "into a slow decline instead (bottom row)."),
    "differences": ("**Reading the differences.** Each dot is *your settings minus usual care*, averaged over the "
                    "replications. The red bar is the paired 95% interval: if it does not cross zero, the "
                    "difference is larger than the simulation's own noise. The grey bar ignores the pairing and is "
                    "wider: common random numbers make the comparison sharper."),
}
FIGURE_TEXT = {engine.FIGURES["differences"]: "differences", engine.FIGURES["by_rupture"]: "repair",
               engine.FIGURES["trajectories"]: "vshape"}


# One pool of spawned worker processes per server, started when the page is first shown and kept
# warm across runs and sessions (the workers die with the server).
@st.cache_resource(show_spinner=False)
def _pool():
    return engine.teach_pool()


# Cached by settings: with the classroom seed, students who pick the same values share one run.
@st.cache_resource(max_entries=4, show_spinner=False)
def _simulate(settings: engine.TeachSettings):
    return engine.simulate_teach(settings, _pool())


# The figures of a run, started on the workers as soon as the run is simulated: name -> Future.
@st.cache_resource(max_entries=4, show_spinner=False)
def _drawing(settings: engine.TeachSettings) -> dict:
    run = _simulate(settings)
    return engine.submit_figures(run, list(run.manifest.get("figures") or []), _pool())


@st.cache_data(max_entries=64, show_spinner=False)
def _run(settings: engine.TeachSettings) -> engine.TeachResult:
    t0 = time.perf_counter()
    run = _simulate(settings)
    _drawing(settings)  # the figures are drawn on the workers while the numbers are made here
    return engine.teach_numbers(run, settings, time.perf_counter() - t0)


@st.cache_data(max_entries=256, show_spinner=False)
def _figure(settings: engine.TeachSettings, name: str) -> engine.Figure:
    try:
        return _drawing(settings)[name].result()
    except Exception:  # a worker lost (killed, out of memory): draw it here; a real error recurs here, shown
        return engine.draw_figures(_simulate(settings), [name])[0]


def _repair_share(logit: float) -> str:
    return f"{100 / (1 + math.exp(-logit)):.0f}%"


def controls() -> tuple[engine.TeachSettings, bool]:
    """The sidebar controls; returns the settings and whether Run was pressed."""
    sb = st.sidebar
    sb.subheader("Your settings")
    with sb.expander("More settings (key=value, as on the command line)"):
        text = st.text_input("Extra settings for both runs", key="teach_extra",
                             placeholder="e.g. service.referrals_per_week=30",
                             help="Any config key, as `alliance-sim KEY=VALUE`. The sliders win for their own keys.")
    ok = True
    try:
        extra = engine.parse_settings(text)
        d = engine.teach_defaults(extra)
    except Exception as err:  # a bad typed value: the CLI's one line; controls on their defaults, no Run
        show_error(err)
        ok, extra, d = False, (), engine.teach_defaults(())
    repair = sb.slider("Repair skill (log-odds of repairing a noticed rupture)", -4.0, 2.0, d.repair_skill, 0.5,
                       key="teach_repair", help=f"`{engine.KEYS['repair_skill']}`: the clinicians' mean skill.")
    sb.caption(f"An average clinician repairs about {_repair_share(repair)} of the ruptures they notice "
               "(at an average alliance).")
    trained = sb.slider("Clinicians trained in rupture repair (%)", 0, 100, int(round(100 * d.trained_share)), 10,
                        key="teach_trained", help=f"`{engine.KEYS['trained_share']}`: trained clinicians notice and "
                                                  "repair ruptures more readily.")
    rom = sb.toggle("Routine outcome monitoring (alliance feedback every session)", value=d.monitoring,
                    key="teach_rom", help=f"`{engine.KEYS['monitoring_every']}`: the clinician sees the patient's "
                                          "alliance rating, so ruptures are easier to notice.")
    sens = sb.slider("Rupture sensitivity (log-odds per SD of the patient's interpersonal sensitivity)", 0.0, 8.0,
                     d.rupture_sensitivity, 0.5, key="teach_sensitivity",
                     help=f"`{engine.KEYS['rupture_sensitivity']}`: how much more often sensitive patients rupture. "
                          "It describes the patients, so it applies to usual care too.")
    reps = sb.slider("Replications", 2, 20, d.replications, 1, key="teach_reps",
                     help="Independent runs of two years each; more give narrower intervals and take longer.")
    new_seed = sb.toggle("Draw a new seed at each run", value=False, key="teach_new_seed",
                         help=f"Off: the classroom seed {d.seed}, so every student sees the same picture.")
    pressed = sb.button("Run", type="primary", key="teach_run", width="stretch", disabled=not ok,
                        help=None if ok else "Correct the settings first (see the message).")
    seed = d.seed
    if new_seed:
        seed = secrets.randbelow(2**31 - 1) + 1 if pressed else st.session_state.get("teach_seed", d.seed)
    st.session_state["teach_seed"] = seed
    sb.caption(f"Seed {seed}" + (" (the classroom seed)" if seed == d.seed else " (drawn at random)"))
    return engine.TeachSettings(float(repair), trained / 100.0, bool(rom), float(sens), int(reps), int(seed),
                                extra), pressed and ok


def render() -> None:
    """The teach view."""
    st.title("Ruptures, repair and dropout")
    st.markdown(INTRO)
    _pool()  # the workers start while the sliders move
    settings, pressed = controls()
    if pressed:
        with st.spinner("Simulating usual care and your settings..."):
            try:
                st.session_state["teach_result"] = _run(settings)
                st.session_state.pop("teach_error", None)
            except Exception as err:  # shown while the settings that caused it stay
                st.session_state["teach_error"] = (settings, err)
    failed = st.session_state.get("teach_error")
    if failed and failed[0] == settings:
        show_error(failed[1])
        return
    res = st.session_state.get("teach_result")
    if res is None:
        st.info("Set the sliders on the left and press **Run** (a run takes a few seconds).")
        st.markdown(EXPLAIN["rupture"])
        return
    show(res, settings)


def show(res: engine.TeachResult, settings: engine.TeachSettings) -> None:
    """Big numbers, tables and figures of a finished teach run."""
    s = res.settings
    if s != settings:
        st.warning("The settings have changed since this run: press **Run** to see them.")
    st.caption(f"Reference A, 2 measured years, {s.replications} replications, seed {s.seed}; repair skill "
               f"{s.repair_skill:g}, {100 * s.trained_share:.0f}% trained, monitoring "
               f"{'on' if s.monitoring else 'off'}, rupture sensitivity {s.rupture_sensitivity:g}. "
               f"Simulated in {res.seconds_run:.1f} s.")
    for h in res.headlines[:2]:
        c1, c2, c3 = st.columns(3)
        c1.metric(f"{h.label}, usual care", h.baseline_mean)
        c1.caption(h.baseline_ci)
        c2.metric(f"{h.label}, your settings", h.other_mean)
        c2.caption(h.other_ci)
        c3.metric(f"{h.label}: difference", h.diff)
        c3.caption(h.diff_ci + ("" if h.excludes_zero else ": not distinguishable from no difference"))
    st.markdown(EXPLAIN["rupture"])
    with st.expander("All numbers with their intervals"):
        st.dataframe(res.kpis, hide_index=True)
        st.dataframe(res.differences, hide_index=True)
    for name in res.figures:  # drawn one by one: the numbers above show while the figures are drawn
        slot = st.empty()
        with slot.container():
            st.caption(f"Drawing {engine.figure_title(name).lower()}...")
        with slot.container():
            show_figure(_figure(s, name), EXPLAIN.get(FIGURE_TEXT.get(name, ""), ""))
