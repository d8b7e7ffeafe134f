"""Federation (联邦): each zone runs its own tongban; cases cross between deployments as signed messages.

- :mod:`federation.keys` — this deployment's Ed25519 signing keys (a directory outside the database);
- :mod:`federation.canonical` — the canonical JSON form (RFC 8785 JCS) that is hashed and signed;
- :mod:`federation.envelope` — the envelope of every message and of every receipt; sign and verify;
- :mod:`federation.models` / :mod:`federation.service` — the peer registry, the message log, the
  links between a case and its mirror;
- :mod:`federation.transfer` — what leaves: blobs first, then the message; the receipt recorded;
- :mod:`federation.receive` — what arrives: every check, then the transition service;
- :mod:`federation.views` — the ``/federation/v1`` endpoints; :mod:`federation.cli` — the commands.

The protocol is written down in ``docs/federation.md``.
"""
