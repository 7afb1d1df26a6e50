"""The HTML capacity report: the answer first, then the evidence, from one run directory.

rundata    reads what a run wrote (and says what is missing, for a run that died)
verdict    the answer: the load that met the thresholds, the knee, who was the limit
charts     the plots, with Bokeh, embedded inline so the file opens offline
compliance the contract suite's report: drift, violations, permission leaks
compare    per-metric deltas against a baseline run
render     puts it together into RUN_DIR/report.html
"""

from tagocheck.report.render import ReportError, write_report

__all__ = ["ReportError", "write_report"]
