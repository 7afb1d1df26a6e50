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
from typing import Any

from tagocheck.options import OFF, OPTIONS, OptionError, check_users

LOG = logging.getLogger("tagocheck")


def guard(environment: Any, problems_of_swarm: Any) -> None:
    """Check every POST /swarm; `problems_of_swarm(values)` adds the run's own refusals."""
    from flask import jsonify, request
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
        """The form shows off as the word, as it is typed, not as -1 or 0."""
        shown()
        for dest, field in web_ui.template_args.get("extra_options", {}).items():
            if dest in OPTIONS and not OPTIONS[dest].flag_only:
                field["default_value"] = OPTIONS[dest].shown(field["default_value"])

    web_ui.update_template_args = update_template_args

    @app.after_request
    def our_labels(response: Any) -> Any:
        if (
            request.method == "GET"
            and response.mimetype == "text/html"
            and not response.direct_passthrough
        ):
            page = response.get_data(as_text=True)
            if "</body>" in page:
                response.set_data(page.replace("</body>", relabelling_script() + "</body>", 1))
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
