"""A broker session's connect/disconnect states without building a `transitions` Machine per
session.

amqtt gives every Session a Machine of its own (three states, five transitions, two callbacks),
and building one is the broker's largest single cost per connection: 21% of the embedded
target's CPU with 3,000 TagoTiP devices reconnecting at a 15-s TTL (py-spy,
bench/tagotip_connections.py).
The table below is the same machine, held once; each session keeps only its state. tests/server/
test_amqtt_sessions.py drives both through every trigger from every state and compares what they
did, so a change in amqtt's machine fails there, not in a fleet.
"""

from __future__ import annotations

from typing import Any

from amqtt.mqtt.protocol import broker_handler
from amqtt.session import Session
from transitions import MachineError

NEXT_STATE: dict[tuple[str, str], str] = {
    ("connect", "new"): "connected",
    ("connect", "disconnected"): "connected",
    ("disconnect", "connected"): "disconnected",
    ("disconnect", "new"): "disconnected",
    ("disconnect", "disconnected"): "disconnected",
}
"""(trigger, state) -> the state entered, as amqtt's Session._init_states builds it."""


class SessionStates:
    """What amqtt reads of `session.transitions`: `state`, `is_connected()`, and the triggers
    `connect()` and `disconnect()`, which raise MachineError where the Machine would (the
    broker's take-over of a client id already connected relies on it) and call the session's
    `_on_enter_<state>` on every entry, a re-entry included, as the Machine does."""

    __slots__ = ("session", "state")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.state = "new"

    def _trigger(self, trigger: str) -> bool:
        entered = NEXT_STATE.get((trigger, self.state))
        if entered is None:
            raise MachineError(f'"Can\'t trigger event {trigger} from state {self.state}!"')
        self.state = entered
        getattr(self.session, f"_on_enter_{entered}")()
        return True

    def connect(self) -> bool:
        return self._trigger("connect")

    def disconnect(self) -> bool:
        return self._trigger("disconnect")

    def is_connected(self) -> bool:
        return self.state == "connected"

    def is_disconnected(self) -> bool:
        return self.state == "disconnected"

    def is_new(self) -> bool:
        return self.state == "new"


class BrokerSession(Session):
    """amqtt's Session with its states held in a SessionStates."""

    def _init_states(self) -> None:
        self.transitions: Any = SessionStates(self)


def use_light_sessions() -> None:
    """Make the broker's sessions BrokerSessions: amqtt builds each client's session in
    broker_handler (BrokerProtocolHandler.init_from_connect) by the name `Session`, so that name
    is pointed here. Client-side sessions (amqtt's own client) are left as they are."""
    broker_handler.Session = BrokerSession  # type: ignore[misc]
