"""`tagocheck report`: a run directory's report written, its verdict said, and a comparison
with a baseline run."""

from __future__ import annotations

import argparse

from rich.console import Console

from tagocheck.usage import UsageError


def run_report(args: argparse.Namespace, out: Console) -> int:
    """Exit 0, or 1 when the run directory is damaged (the verdict cannot vouch for the run) or
    a metric regressed beyond --fail-on-regression; 2 on bad input."""
    from tagocheck.report import ReportError, compare, rundata, verdict, write_report

    if args.fail_on_regression is not None and not args.baseline:
        raise UsageError("--fail-on-regression needs --baseline")
    if args.fail_on_regression is not None and not 0 <= args.fail_on_regression < 1e6:
        raise UsageError("--fail-on-regression takes a percentage, 0 or more")
    try:
        share = (
            args.fail_on_regression / 100
            if args.fail_on_regression is not None
            else compare.REGRESSION
        )
        written = write_report(
            args.run_dir, baseline=args.baseline, contract=args.contract, regression_share=share
        )
        run = rundata.load(args.run_dir)
        base = rundata.load(args.baseline) if args.baseline else None
    except (ReportError, rundata.RunDirError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write the report: {error.strerror}: {error.filename}") from None
    out.print(f"report written to {written}", highlight=False)
    found = verdict.judge(run)  # the run already loaded, for the comparison too
    out.print(found.headline, markup=False, highlight=False)
    code = 0
    if run.missing:
        out.print(f"the run directory is damaged: {'; '.join(run.missing)}", highlight=False)
        code = 1
    if base is not None:
        comparison = compare.compare(run, base)
        for line in comparison.differences:
            out.print(f"not comparable: {line}", markup=False, highlight=False)
        if args.fail_on_regression is not None:
            worse = comparison.regressions(args.fail_on_regression / 100)
            for delta in worse:
                out.print(
                    f"regression: {delta.metric} {delta.change_text} (baseline "
                    f"{delta.baseline:g}, now {delta.current:g})",
                    markup=False,
                    highlight=False,
                )
            code = code or (1 if worse else 0)
    return code
