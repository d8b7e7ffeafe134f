"""电子证照: electronic licences that stand in for a scanned material.

Two halves that share only the wire format (``licences.signing``):

- the issuing side — ``licences.issuer``, a self-contained issuing-authority service (发证机关) that
  signs licences and publishes its key and revocation list; it imports nothing of tongban's;
- tongban's side — ``licences.adapters`` (one small interface per kind of issuer),
  ``licences.verify`` (pure checks: signature, validity, revocation, holder) and
  ``licences.service`` (the counter's steps over a database session and the object store).

This ``__init__`` stays empty of imports so the issuer process starts without loading tongban.
"""
