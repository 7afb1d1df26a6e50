"""The contract applied: each exchange with a target (exchange), the registry of checks that
judges it (checks), findings graded by their source's label (findings), what a contract run saw
(recorder), and pairing what was sent with what came back (pairing)."""
