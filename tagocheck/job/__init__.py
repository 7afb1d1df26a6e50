"""`tagocheck capacity`, the main job: preflight, target, fleet, contract suite, capacity steps,
report. `preflight` is plain arithmetic on the plan (tested alone); `run` drives the parts as
processes and shows their progress."""
