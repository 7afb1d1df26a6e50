"""The web UI's swarm form, held to the option table as the command line is.

Locust reads the form's fields into the parsed options by casting each to its default's type,
and starts the swarm before any listener can refuse it: a value that makes no sense, or a plan
the embedded target was not started with, would be taken or turn into an idle swarm. So a swarm
request is checked first, and a refusal is answered the way Locust answers its own ("success":
false with a message), which the form shows above its Start button.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from tagocheck.options import OFF, OPTIONS, OptionError, check_users, form_options

LOG = logging.getLogger("tagocheck")


def guard(
    environment: Any,
    problems_of_swarm: Callable[[dict[str, str]], list[str]],
    verdicts: Callable[[], list[dict[str, Any]]],
    scenario: str,
) -> None:
    """Check every POST /swarm (`problems_of_swarm(values)` adds the run's own refusals), show
    the options that apply to `scenario` in the form's order, and each swarm's verdict in the
    page as it ends (`verdicts()`: swarm, headline, outcome, report path)."""
    from flask import abort, jsonify, request, send_file
    from werkzeug.datastructures import ImmutableMultiDict

    web_ui = environment.web_ui
    app = web_ui.app

    @app.before_request
    def check_swarm() -> Any:
        if request.method != "POST" or not request.path.endswith("/swarm"):
            return None
        form = request.form
        canonical, problems = OPTIONS.parse_form(form)
        try:
            users = int(form.get("user_count", "1"))
            processes = getattr(environment.parsed_options, "processes", 0) or 0
            if users < 1:
                problems.append("Number of users: at least 1")
            else:
                check_users(users, processes)
        except ValueError:
            problems.append(f"Number of users: {form.get('user_count')!r} is not a whole number")
        except OptionError as error:
            problems.append(f"Number of users: {error}")
        if not problems:
            problems += problems_of_swarm({**form.to_dict(), **canonical})
        if problems:
            message = "swarm refused: " + "; ".join(problems)
            LOG.error(message)
            return jsonify({"success": False, "message": message, "host": environment.host})
        # the checked values, off as its number, for Locust to cast
        request.form = ImmutableMultiDict({**form.to_dict(flat=True), **canonical})
        return None

    shown = web_ui.update_template_args

    def update_template_args() -> None:
        """The form's fields: those that apply to the scenario, in the form's order (Locust's
        own are the parser's), off shown as the word, as it is typed, not as -1 or 0."""
        shown()
        fields = web_ui.template_args.get("extra_options", {})
        ordered = {o.dest: fields[o.dest] for o in form_options(scenario) if o.dest in fields}
        for dest, field in ordered.items():
            if not OPTIONS[dest].flag_only:
                field["default_value"] = OPTIONS[dest].shown(field["default_value"])
        others = {dest: field for dest, field in fields.items() if dest not in OPTIONS}
        web_ui.template_args["extra_options"] = {**ordered, **others}

    web_ui.update_template_args = update_template_args
    # the page gets its fields as JSON through Jinja's tojson, which sorts keys unless told:
    # the order above would be lost ("Devices" in the middle, "Path" last)
    app.jinja_env.policies["json.dumps_kwargs"] = {"sort_keys": False}

    @app.route("/tagocheck/verdicts")
    def swarm_verdicts() -> Any:
        """Each ended swarm's verdict, its report served below (a path means nothing to a
        browser on another machine)."""
        return jsonify(
            [
                {
                    **{k: v for k, v in found.items() if k != "report"},
                    "has_report": bool(found["report"]),
                }
                for found in verdicts()
            ]
        )

    @app.route("/tagocheck/report/<int:swarm>")
    def swarm_report(swarm: int) -> Any:
        found = next((v for v in verdicts() if v["swarm"] == swarm and v["report"]), None)
        if found is None:
            abort(404)
        return send_file(found["report"], mimetype="text/html")

    @app.after_request
    def our_labels(response: Any) -> Any:
        if (
            request.method == "GET"
            and response.mimetype == "text/html"
            and not response.direct_passthrough
        ):
            page = response.get_data(as_text=True)
            if "</body>" in page:
                scripts = relabelling_script() + VERDICTS
                response.set_data(page.replace("</body>", scripts + "</body>", 1))
        return response


RELABEL = """<script>
(() => {
  const labels = %s;
  const relabel = () => {
    for (const [name, [label, help]] of Object.entries(labels)) {
      const input = document.querySelector(`input[name="${name}"]`);
      if (input && input.title !== help) input.title = help;
      const control = input && input.closest(".MuiFormControl-root, .MuiFormControlLabel-root");
      let text = control && (control.querySelector(".MuiFormControlLabel-label")
        || control.querySelector("label"));
      if (!input) {  // a choice: its field has no named input; its label is Locust's own
        const locusts = name.replace(/([a-z0-9])([A-Z0-9])/g, "$1 $2")
          .replace(/^./, c => c.toUpperCase()) + " (";
        text = [...document.querySelectorAll("label")]
          .find(l => l.textContent.startsWith(locusts));
      }
      if (text && text.textContent !== label) text.textContent = label;
    }
  };
  new MutationObserver(relabel).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>"""


VERDICTS = """<script>
(() => {
  // Locust's Logs tab stops asking for logs once a swarm stops: each swarm's verdict is shown
  // here instead, as it ends, with its report.
  const panel = document.createElement("div");
  panel.id = "tagocheck-verdicts";
  panel.style.cssText = "position:fixed;bottom:0;left:0;right:0;z-index:2000;" +
    "background:#fff;border-top:2px solid #888;padding:6px 12px;font:14px sans-serif;" +
    "max-height:30vh;overflow:auto;display:none";
  document.body.appendChild(panel);
  const colours = {held: "#1b5e20", findings: "#b71c1c", "not-run": "#b71c1c",
                   interrupted: "#e65100"};
  let shown = "";
  const refresh = async () => {
    try {
      const found = await (await fetch("./tagocheck/verdicts")).json();
      const text = JSON.stringify(found);
      if (text === shown) return;
      shown = text;
      panel.replaceChildren(...found.map(v => {
        const line = document.createElement("div");
        line.className = "tagocheck-verdict";
        line.style.color = colours[v.outcome] || "#000";
        line.textContent = `Swarm ${v.swarm}: ${v.headline} `;
        if (v.has_report) {
          const link = document.createElement("a");
          link.href = `./tagocheck/report/${v.swarm}`;
          link.target = "_blank";
          link.textContent = "report";
          line.appendChild(link);
        }
        return line;
      }));
      panel.style.display = found.length ? "block" : "none";
    } catch (error) { /* the UI is going away: nothing to show */ }
  };
  refresh();
  setInterval(refresh, 2000);
})();
</script>"""


def relabelling_script() -> str:
    """The form's labels from the option table. Locust's form makes each one from the option's
    name ("Check P9 9Ms"), so the page is given ours, by the fields' names (camelCase there)."""
    labels = {}
    for option in OPTIONS:
        head, *rest = option.dest.split("_")
        notes = [option.unit] if option.unit else []
        notes += [f"{OFF} turns it off"] if option.off is not None else []
        shown = f"{option.label} ({', '.join(notes)})" if notes else option.label
        labels[head + "".join(word.title() for word in rest)] = (shown, option.help)
    return RELABEL % json.dumps(labels)


def problems_of_swarm(values: dict[str, str], setup: Any, runner: Any) -> list[str]:
    """What the web form asks that this run cannot do (its values already checked one by
    one): another plan than the embedded target's (`setup`: the load's Provisioning), more
    devices than a fleet file has, a second swarm while one runs."""
    problems = []
    plan = values.get("plan", "")
    if setup.embedded and plan and not setup.is_our_plan(plan):
        problems.append(
            f"Rate-limit plan: the embedded target runs plan {setup.plan}; restart Locust "
            f"with --plan {plan} to hold it to that one"
        )
    devices = int(values.get("devices", len(setup.devices)) or 0)
    if devices > len(setup.devices) and not setup.profile_token:
        problems.append(
            f"Devices in the fleet: the fleet file has {len(setup.devices):,} devices and "
            "there is no profile token to create more"
        )
    if runner is not None and runner.state in ("running", "spawning"):
        problems.append("a swarm is running: stop it first (each swarm is a run of its own)")
    return problems
