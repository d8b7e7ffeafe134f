"""`tongban federation …` (this deployment's identity, verify) and `tongban peer …` (the registry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

federation_app = typer.Typer(help="Federation (联邦): this deployment's signing key; checks with a peer.",
                             no_args_is_help=True)
peer_app = typer.Typer(help="Peer deployments (对端): register, list, remove.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _print_identity(ident: Any, created: bool, as_json: bool) -> None:
    from federation import keys

    cur = ident.current
    if as_json:
        typer.echo(json.dumps({"deployment_id": ident.deployment_id, "public_key": cur.public_key,
                               "fingerprint": cur.key_id, "created": created,
                               "keys": [k.public() for k in ident.keys]}))
        return
    typer.echo(f"{'created' if created else 'existing'} identity of {ident.deployment_id} in {ident.directory}")
    typer.echo(f"public key   {cur.public_key}")
    typer.echo(f"fingerprint  {keys.short(cur.key_id)}  ({cur.key_id})")


@federation_app.command("init")
def init(deployment_id: Annotated[str, typer.Option("--id", help="this deployment's id, e.g. TJ-TEDA")] = "",
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Make the signing key (once; 0600, outside the database) and print the public key and fingerprint."""
    from federation import keys
    from web.cli import load_settings

    st = load_settings()
    try:
        ident, created = keys.init(st.federation_key_dir(), deployment_id or st.federation_id)
    except keys.KeyError_ as exc:
        raise _fail(str(exc)) from exc
    _print_identity(ident, created, as_json)


@federation_app.command("rotate-key")
def rotate_key(overlap_hours: Annotated[float, typer.Option(help="hours in which the old key still verifies")] = 24,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A new signing key; the old one verifies during the overlap. Peers learn it from /federation/v1/identity."""
    from federation import keys
    from web.cli import load_settings

    st = load_settings()
    ident = keys.load(st.federation_key_dir())
    if ident is None:
        raise _fail(f"no identity in {st.federation_key_dir()}; run `tongban federation init` first")
    if overlap_hours < 0:
        raise _fail("--overlap-hours: not negative")
    keys.rotate(ident, overlap=timedelta(hours=overlap_hours))
    _print_identity(ident, True, as_json)


@federation_app.command("verify")
def verify_with_peer(case_no: str) -> None:
    """Ask the peer for its signed side of a shared case and say whether the two histories agree."""
    from federation.verify import compare_with_peer
    from web.cli import _runtime

    rt = _runtime()
    try:
        report = compare_with_peer(rt, case_no)
    except LookupError as exc:
        raise _fail(str(exc)) from exc
    for line in report.lines:
        typer.echo(line)
    typer.echo(f"{case_no}: {'AGREE' if report.ok else 'DISAGREE'} with {report.peer_id}"
               f" ({report.remote_case_no}, {report.messages} messages compared)")
    if not report.ok:
        raise typer.Exit(2)


@peer_app.command("add")
def peer_add(
    peer_id: str,
    url: Annotated[str, typer.Option("--url", help="the peer's base URL (https:// in production)")],
    zones: Annotated[str, typer.Option("--zones", help="zone codes it hosts, comma-separated")],
    public_key: Annotated[str, typer.Option("--public-key", help="its Ed25519 public key (base64url)")] = "",
    fingerprint: Annotated[str, typer.Option("--fingerprint", help="fetch the key from --url and require this "
                                             "fingerprint (as `tongban federation init` printed it there)")] = "",
    name: Annotated[str, typer.Option("--name", help="display name")] = "",
) -> None:
    """Register a peer deployment by its public key (given, or fetched and checked against its fingerprint)."""
    from federation import service as peers
    from federation.transfer import fetch_identity
    from storage.db import transaction
    from web.cli import _runtime

    rt = _runtime()
    if not public_key:
        if not fingerprint:
            raise _fail("give --public-key, or --fingerprint to fetch the key from --url and check it")
        try:
            doc = fetch_identity(url)
        except Exception as exc:  # noqa: BLE001
            raise _fail(f"cannot fetch {url}/federation/v1/identity: {exc}") from exc
        want = fingerprint.replace(" ", "").lower()
        match = [k for k in doc.get("signed", {}).get("keys", []) if str(k.get("key_id", "")).startswith(want)]
        if not want or not match:
            raise _fail(f"--fingerprint: {fingerprint} is not a key of {url}")
        public_key = str(match[-1]["public_key"])
    try:
        with transaction(rt.session_factory) as s:
            peer = peers.add_peer(db_session=s, peer_id=peer_id, base_url=url,
                                  zone_codes=zones.split(","), public_key=public_key, display_name=name,
                                  own_id=rt.settings.federation_id)
            line = f"peer {peer.peer_id} ({', '.join(peer.zone_codes)}) at {peer.base_url}, {len(peer.keys)} key(s)"
    except peers.PeerError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(line)


@peer_app.command("list")
def peer_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Peers with their health: last contact, messages waiting, oldest unacknowledged, refusals."""
    from federation import service as peers
    from storage.db import transaction
    from web.cli import _runtime

    rt = _runtime()
    with transaction(rt.session_factory) as s:
        rows = peers.health(db_session=s)
    if as_json:
        def when(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        typer.echo(json.dumps([{**r.__dict__, "last_contact_at": when(r.last_contact_at),
                                "oldest_unacknowledged": when(r.oldest_unacknowledged)} for r in rows],
                              ensure_ascii=False))
        return
    if not rows:
        typer.echo("no peers")
    for r in rows:
        typer.echo(f"{r.peer_id}  {r.display_name}  zones {','.join(r.zone_codes)}  {r.base_url}  keys "
                   f"{'; '.join(r.fingerprints)}  waiting {r.waiting}  refusals {r.refusals}  last contact "
                   f"{r.last_contact_at.isoformat() if r.last_contact_at else 'never'}")


@peer_app.command("import-catalog")
def peer_import_catalog(peer_id: str) -> None:
    """Fetch the peer's signed catalog (the items of the zones it hosts) and import it."""
    from federation import service as peers
    from federation.catalog import import_catalog
    from federation.envelope import Refused
    from federation.transfer import _call
    from storage.db import transaction
    from web.cli import _runtime

    rt = _runtime()
    with transaction(rt.session_factory) as s:
        peer = peers.get_peer(db_session=s, peer_id=peer_id)
        if peer is None:
            raise _fail(f"peer id: no peer {peer_id!r}")
        base = peer.base_url
    try:
        document = _call("GET", f"{base}/federation/v1/catalog")
    except Exception as exc:  # noqa: BLE001
        raise _fail(f"cannot fetch {base}/federation/v1/catalog: {exc}") from exc
    try:
        with transaction(rt.session_factory) as s:
            peer = peers.get_peer(db_session=s, peer_id=peer_id)
            assert peer is not None
            items = import_catalog(db_session=s, peer=peer, document=document)
            line = f"imported {len(items)} items of {peer_id}: " + ", ".join(
                sorted({f"{i.zone.code}/{i.code}" for i in items})[:10]) + (" …" if len(items) > 10 else "")
    except Refused as exc:
        raise _fail(f"{exc.code.value}: {exc.detail}") from exc
    typer.echo(line)


@peer_app.command("remove")
def peer_remove(peer_id: str) -> None:
    """Forget a peer (its keys stop verifying at once)."""
    from federation import service as peers
    from storage.db import transaction
    from web.cli import _runtime

    rt = _runtime()
    try:
        with transaction(rt.session_factory) as s:
            peers.remove_peer(db_session=s, peer_id=peer_id)
    except peers.PeerError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"peer {peer_id} removed")


def _now() -> datetime:
    return datetime.now(UTC)
