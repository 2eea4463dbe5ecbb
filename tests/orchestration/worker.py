"""A separate process for concurrency and kill tests: `python -m tests.orchestration.worker`."""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import os
import time

from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.database import Database


def issue_loop(url: str, campaign_id: int, rounds: int, tag: str) -> None:
    """Add one problem and issue notices for it, `rounds` times."""
    from duban.services.notices.issuing import issue_notices
    from tests.orchestration.helpers import add_problems

    db = Database(url)
    clock = FixedClock(dt.datetime(2022, 9, 26, 9, tzinfo=CHINA_TZ))
    lock_path = os.path.join(os.path.dirname(url.rsplit("/", 1)[-1]) or ".", ".intake.lock")
    for i in range(rounds):
        # Intake is serialised here: this test is about numbering, not intake (see report).
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            add_problems(db, clock, campaign_id, 1, tag=f"{tag}-{i}-")
        db.run(issue_notices, clock, campaign_id, issued_by="county", batch_key=f"{tag}-{i}")


def record_fire() -> None:
    """A scheduler job for the two-scheduler test: append who fired and when."""
    with open(os.environ["DUBAN_TEST_FIRE_LOG"], "a") as fh:
        fh.write(f"{os.getpid()} {time.time():.3f}\n")


def main() -> None:
    """Run one job named on the command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("--url", required=True)
    parser.add_argument("--campaign", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tag", default=str(os.getpid()))
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--now", default=None)
    args = parser.parse_args()
    if args.start_at:
        time.sleep(max(0.0, args.start_at - time.time()))
    if args.job == "issue":
        issue_loop(args.url, args.campaign, args.rounds, args.tag)
    elif args.job == "tick":
        from duban.services.root import build_root, install_root
        from flows.tick import run_tick

        install_root(build_root(args.url))

        print("ready", flush=True)
        run_tick(args.now)
        print("done", flush=True)
    else:
        raise SystemExit(f"unknown job {args.job}")


if __name__ == "__main__":
    main()
