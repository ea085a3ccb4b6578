"""``atp supply receive | cancel | redate``: one supply write through the durable engine,
printed once PostgreSQL has it. Exit status 0 on success, 1 on a refusal or bad input."""

import argparse
import sys
from datetime import date

from atp.model import InvalidInput, SupplyOutcome
from cli.journal import common_options, run_command
from durability.db import create_pool
from engine.durable import DurableEngine


def _supply_line(action: str, args: argparse.Namespace, out: SupplyOutcome) -> str:
    p = out.position
    done = {"receive": f"received {out.received}", "cancel": f"cancelled {out.retired}"}
    what = done.get(action, "re-dated")
    over = f" ({out.over_received} beyond what it expected)" if out.over_received else ""
    return (
        f"{out.result.value}: {what} of supply {args.supply_id} at {args.location}/{args.sku}"
        f"{over}; {out.remaining} still expected; on hand {p.on_hand}, incoming {p.incoming}"
        f" (event {out.event_id or '-'})"
    )


async def _supply_write(engine: DurableEngine, args: argparse.Namespace) -> SupplyOutcome:
    stock, ref = engine.stock, (args.sku, args.location, args.supply_id)
    if args.action == "receive":
        return await stock.receive_incoming(*ref, args.qty, reason=args.reason, op_id=args.op_id)
    if args.action == "cancel":
        return await stock.cancel_incoming(*ref, op_id=args.op_id)
    return await stock.redate_incoming(*ref, args.expected_at, op_id=args.op_id)


async def _supply(args: argparse.Namespace) -> int:
    """One supply write through the durable engine: printed once PostgreSQL has it."""
    pool = await create_pool(args.dsn, 1)
    engine = await DurableEngine.open(args.redis, pool, start_sweeper=False)
    try:
        out = await _supply_write(engine, args)
    except InvalidInput as error:
        print(f"atp supply {args.action}: {error}", file=sys.stderr)
        return 1
    finally:
        await engine.close()
        await pool.close()
    if not out.ok:
        print(f"atp supply {args.action}: refused: {out.result.value}", file=sys.stderr)
        return 1
    print(_supply_line(args.action, args, out))
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser("supply", help="receive, cancel or re-date incoming supply")
    actions = p.add_subparsers(dest="action", required=True)
    helps = {
        "receive": "goods arrived: on hand grows and the supply shrinks, in one step",
        "cancel": "the supply will not come: what it still expects leaves incoming",
        "redate": "the supply is expected by another day",
    }
    for action, text in helps.items():
        a = actions.add_parser(action, help=text, description=text)
        common_options(a)
        a.add_argument("supply_id", help="the supply (purchase order) as recorded")
        a.add_argument("--sku", required=True, help="the SKU the supply brings")
        a.add_argument("--location", required=True, help="where it is expected")
        a.add_argument("--op-id", help="operation id: a retry with it is applied once")
        if action == "receive":
            a.add_argument("--qty", type=int, help="units received (default: all expected)")
            a.add_argument("--reason", help="a note recorded on the event")
        if action == "redate":
            a.add_argument(
                "--expected-at",
                type=date.fromisoformat,
                required=True,
                metavar="YYYY-MM-DD",
                help="the new expected date",
            )
        a.set_defaults(handler=run_command(_supply))
