"""The scripts each tool runs in its own subprocess for ``ctml bench drift`` (argv[1]: the data folder).

Each reads ``reference.parquet`` and ``current.parquet``, times the drift computation alone with
``time.perf_counter``, and prints one JSON line: seconds, load_s, peak_mb (its own peak RSS), version and
the number of columns it found drifted. The anchors' scripts run in their own virtual environments, so they
import nothing from ctml.
"""

from __future__ import annotations

__all__ = ["ANCHOR_SCRIPTS", "CTML_FULL", "CTML_PROFILE"]

_PEAK = """
import resource
def peak_mb():
    # VmHWM is this program's own peak: ru_maxrss also counts the parent's pages alive when it was forked.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

CTML_FULL = (
    _PEAK
    + """
import json, sys, time
from pathlib import Path
import ctml
from ctml.drift import compare, read_table
work = Path(sys.argv[1])
t0 = time.perf_counter()
ref, cur = read_table(work / "reference.parquet"), read_table(work / "current.parquet")
t1 = time.perf_counter()
report = compare(ref, cur)
t2 = time.perf_counter()
(work / "reference.profile.json").write_text(json.dumps(report.reference.to_json()))
print(json.dumps({"seconds": t2 - t1, "load_s": t1 - t0, "peak_mb": peak_mb(), "version": ctml.__version__,
                  "drifted": len(report.drifted_columns)}))
"""
)

CTML_PROFILE = (
    _PEAK
    + """
import json, sys, time
from pathlib import Path
import ctml
from ctml.drift import DatasetProfile, compare, read_table
work = Path(sys.argv[1])
stored = DatasetProfile.from_json(json.loads((work / "reference.profile.json").read_text()))
t0 = time.perf_counter()
cur = read_table(work / "current.parquet")
t1 = time.perf_counter()
report = compare(stored, cur)
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t1, "load_s": t1 - t0, "peak_mb": peak_mb(), "version": ctml.__version__,
                  "drifted": len(report.drifted_columns)}))
"""
)

_EVIDENTLY = (
    _PEAK
    + """
import json, sys, time
from pathlib import Path
import pandas as pd
import evidently
work = Path(sys.argv[1])
t0 = time.perf_counter()
ref, cur = pd.read_parquet(work / "reference.parquet"), pd.read_parquet(work / "current.parquet")
t1 = time.perf_counter()
drifted = None
try:
    from evidently import Report
    from evidently.presets import DataDriftPreset
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    t2 = time.perf_counter()
    try:
        for metric in snapshot.dict()["metrics"]:
            value = metric.get("value")
            name = str(metric.get("metric_name"))
            if isinstance(value, dict) and "count" in value and name.startswith("DriftedColumnsCount"):
                drifted = int(value["count"])
    except Exception:
        pass
except ImportError:
    from evidently.metric_preset import DataDriftPreset
    from evidently.report import Report
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=ref, current_data=cur)
    t2 = time.perf_counter()
    try:
        drifted = int(report.as_dict()["metrics"][0]["result"]["number_of_drifted_columns"])
    except Exception:
        pass
print(json.dumps({"seconds": t2 - t1, "load_s": t1 - t0, "peak_mb": peak_mb(), "version": evidently.__version__,
                  "drifted": drifted}))
"""
)

_NANNYML = (
    _PEAK
    + """
import json, sys, time
from pathlib import Path
import pandas as pd
import nannyml as nml
work = Path(sys.argv[1])
t0 = time.perf_counter()
ref, cur = pd.read_parquet(work / "reference.parquet"), pd.read_parquet(work / "current.parquet")
t1 = time.perf_counter()
from nannyml.thresholds import ConstantThreshold
# One chunk a side: its default thresholds come from the spread over reference chunks, which one chunk has not.
fixed = {"jensen_shannon": ConstantThreshold(upper=0.1), "kolmogorov_smirnov": ConstantThreshold(upper=0.1),
         "chi2": ConstantThreshold(upper=None)}
calc = nml.UnivariateDriftCalculator(column_names=list(ref.columns), chunk_number=1, thresholds=fixed)
calc.fit(ref)
results = calc.calculate(cur)
t2 = time.perf_counter()
drifted = None
try:
    frame = results.filter(period="analysis").to_df()
    alerts = frame.xs("alert", axis=1, level=-1)
    drifted = int(alerts.any(axis=0).groupby(level=0).any().sum())
except Exception:
    pass
print(json.dumps({"seconds": t2 - t1, "load_s": t1 - t0, "peak_mb": peak_mb(), "version": nml.__version__,
                  "drifted": drifted}))
"""
)

ANCHOR_SCRIPTS = {"evidently": _EVIDENTLY, "nannyml": _NANNYML}
