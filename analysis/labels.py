"""Human labels for what figures and reports show: KPIs with units, scenarios, experiments."""

from __future__ import annotations

from typing import Optional

from simulation.kpis import kpi_info

# Words kept in capitals when a readable label is derived from an internal name.
ACRONYMS = {"rom": "ROM", "dna": "DNA", "iapt": "IAPT", "cmht": "CMHT", "crn": "CRN", "wai": "WAI"}


def kpi_label(kpi: str) -> str:
    """The KPI's short human name (from its registry entry)."""
    try:
        return kpi_info(kpi).label
    except KeyError:
        return readable(kpi)


def lower_label(kpi: str) -> str:
    """The KPI's label for use mid-sentence (keeps acronyms such as DNA)."""
    label = kpi_label(kpi)
    return label if label[:3].isupper() or label.split()[0] in ACRONYMS.values() else label[0].lower() + label[1:]


def is_proportion(kpi: str) -> bool:
    """True for KPIs that are shares (shown in %, compared in percentage points)."""
    try:
        return kpi_info(kpi).is_proportion
    except KeyError:
        return False


def kpi_unit(kpi: str) -> str:
    """The KPI's registry unit ("" for an unknown name)."""
    try:
        return kpi_info(kpi).unit
    except KeyError:
        return ""


def kpi_scale(kpi: str) -> float:
    """Factor from the stored value to the displayed one (100 for proportions)."""
    return 100.0 if is_proportion(kpi) else 1.0


def kpi_axis_label(kpi: str) -> str:
    """An axis label with the unit: "Dropout (%)", "Wait for first appointment (weeks)"."""
    return f"{kpi_label(kpi)} (%)" if is_proportion(kpi) else f"{kpi_label(kpi)} ({kpi_unit(kpi)})"


def diff_unit(kpi: str) -> str:
    """The unit of a difference in this KPI."""
    return "percentage points" if is_proportion(kpi) else kpi_unit(kpi)


def readable(name: str) -> str:
    """A readable label from an internal name: "training_and_rom" -> "Training and ROM"."""
    words = [ACRONYMS.get(w.lower(), w) for w in str(name).replace("-", "_").split("_") if w]
    if not words:
        return str(name)
    first = words[0]
    words[0] = first if first in ACRONYMS.values() else first[0].upper() + first[1:]
    return " ".join(words)


def scenario_label(name: str, labels: Optional[dict] = None) -> str:
    """The experiment's label for a scenario (``extra.labels``), else one derived from its name."""
    if labels and name in labels:
        return str(labels[name])
    return readable(name)


# Exit reasons of the patients table, as a reader should see them.
EXIT_LABELS = {"recovered": "recovery discharge", "completed": "course completed", "dropout": "dropout",
               "dna_discharge": "DNA discharge", "left_waiting_list": "left the waiting list",
               "censored": "still in care at the end"}


def exit_label(reason: str) -> str:
    """A patient's exit reason in words ("recovered" -> "recovery discharge")."""
    return EXIT_LABELS.get(str(reason), readable(reason))
