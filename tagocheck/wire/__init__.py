"""Talking to a target: the client the contract suite and set-up use (client), why a request
got no answer in words a user can act on (transport), and whether a target can be used at all
(reach)."""
