"""`tongxin keys`: the identity service's signing keys (TONGXIN_JWT_KEYS_DIR)."""

from __future__ import annotations

import argparse
import sys

from services.identity.settings import IdentitySettings
from shared.signing import KEEP_KEYS, NoSigningKey, key_files, rotate, signing_keys


def cmd_rotate(args: argparse.Namespace) -> int:
    """A new key signs from now on; the previous stays published for the overlap."""
    try:
        kept = rotate(IdentitySettings(), keep=args.keep)
    except NoSigningKey as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    print(f"✓ signing with {kept[-1].name}; published: {', '.join(p.name for p in kept)}")
    return 0


def cmd_list(_: argparse.Namespace) -> int:
    settings = IdentitySettings()
    try:
        files, keys = key_files(settings), signing_keys(settings)
    except NoSigningKey as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    for i, (path, key) in enumerate(zip(files, keys, strict=True)):
        print(f"{'signs' if i == len(keys) - 1 else 'published':<10} kid={key.kid}  {path}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="the identity service's token signing keys")
    commands = keys.add_subparsers(dest="keys_command", required=True)
    p = commands.add_parser(
        "rotate", help="make a new signing key; keep the newest --keep published (default 2)"
    )
    p.add_argument("--keep", type=int, default=KEEP_KEYS, choices=range(1, 6), metavar="N")
    p.set_defaults(func=cmd_rotate)
    p = commands.add_parser("list", help="the keys published, and the one that signs")
    p.set_defaults(func=cmd_list)
