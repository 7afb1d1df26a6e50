"""The broker's light session states do what amqtt's own `transitions` Machine does, trigger by
trigger from every state: the state entered, the error raised, the callbacks called."""

from __future__ import annotations

import itertools

import pytest
from amqtt.session import Session
from transitions import MachineError

from tagocheck.server.amqtt_sessions import BrokerSession

TRIGGERS = ("connect", "disconnect")


def _recorded(session_type: type[Session]) -> tuple[Session, list[str]]:
    session = session_type()
    entered: list[str] = []
    for state in ("connected", "disconnected"):
        original = getattr(session, f"_on_enter_{state}")

        def record(state: str = state, original=original) -> None:  # type: ignore[no-untyped-def]
            entered.append(state)
            original()

        setattr(session, f"_on_enter_{state}", record)
    if session_type is Session:  # amqtt's Machine bound the originals when it was built
        session._init_states()
    return session, entered


def _walk(session_type: type[Session], triggers: tuple[str, ...]) -> list[object]:
    session, entered = _recorded(session_type)
    seen: list[object] = []
    for trigger in triggers:
        try:
            getattr(session.transitions, trigger)()
            seen.append(("ok", session.transitions.state))
        except MachineError:
            seen.append(("refused", session.transitions.state))
        seen.append((session.transitions.is_connected(), tuple(entered)))
    return seen


@pytest.mark.parametrize("triggers", list(itertools.product(TRIGGERS, repeat=3)))
def test_every_trigger_sequence_ends_as_amqtts_own_machine_ends(triggers: tuple[str, ...]) -> None:
    assert _walk(BrokerSession, triggers) == _walk(Session, triggers)


def test_a_second_connect_is_refused_so_the_broker_takes_the_client_id_over() -> None:
    session = BrokerSession()
    session.transitions.connect()
    with pytest.raises(MachineError):
        session.transitions.connect()
    assert session.transitions.state == "connected"
