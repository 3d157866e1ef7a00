"""`tongxin kafka setup|grant-subscriber|acls`: the broker's topics and ACLs (issue 19).

Run as the broker's admin (TONGXIN_KAFKA_USERNAME/PASSWORD of a super user); the table is
shared/kafka/acls.py. docs/subscribing.md says how a subscriber gets its credentials.
"""

from __future__ import annotations

import argparse
import asyncio

from shared.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kafka = subparsers.add_parser("kafka", help="the broker's topics and ACLs (as its admin)")
    sub = kafka.add_subparsers(dest="kafka_command", required=True)
    p = sub.add_parser("setup", help="create the streams and every service's ACLs")
    p.set_defaults(func=cmd_setup)
    for name, func, text in (
        ("grant-subscriber", cmd_grant_subscriber, "give a subscriber user read-only ACLs"),
        ("acls", cmd_acls, "print the ACLs (the services', or a subscriber's) and change nothing"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "name", nargs="?" if name == "acls" else None, help="the subscriber's SCRAM user"
        )
        p.add_argument(
            "--district",
            action="append",
            default=[],
            dest="districts",
            help="its district (repeatable); none: the four public streams, every district",
        )
        p.set_defaults(func=func)


def cmd_setup(args: argparse.Namespace) -> int:
    from shared.kafka.acls import setup

    print(f"{asyncio.run(setup(Settings()))} ACLs set; topics present")
    return 0


def cmd_grant_subscriber(args: argparse.Namespace) -> int:
    from shared.kafka.acls import apply, subscriber_acls

    settings = Settings()
    acls = subscriber_acls(settings, args.name, args.districts)
    asyncio.run(apply(settings, acls))
    for acl in acls:
        print(acl.describe())
    return 0


def cmd_acls(args: argparse.Namespace) -> int:
    from shared.kafka.acls import platform_acls, subscriber_acls

    settings = Settings()
    acls = (
        subscriber_acls(settings, args.name, args.districts)
        if args.name
        else platform_acls(settings)
    )
    for acl in acls:
        print(acl.describe())
    return 0
