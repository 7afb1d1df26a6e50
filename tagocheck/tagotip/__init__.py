"""TagoTiP, TagoIO's device protocol: frames (`frames`), credentials (`credentials`) and the
TagoTiP/S crypto envelope (`envelope`), built and parsed in one place for the embedded target,
the fleets and the conformance checks alike."""
