"""A live MT5 deployment in its own process, for the SIGKILL test: the MetaTrader5 stand-in's
account is kept in a file (a real terminal is another process: what it executed survives
genebot's death), saved after every order it executes and every clock step, *before* genebot
sees the reply.

    python mt5_crash_driver.py STATE.pkl DATABASE_URL MAX_BARS [KILL_AFTER_SEND]

KILL_AFTER_SEND=k: the process SIGKILLs itself right after its k-th order executed on the
terminal (the state saved), before genebot sees the reply.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from test_mt5_live_runtime import NS, config

from genebot.config.loader import load_config
from genebot.live.exchange_runtime import LiveRuntime
from genebot.persistence.database import Database
from genebot.testkit.mt5_standin import Mt5Standin


def save(mt5: Mt5Standin, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(mt5))
    os.replace(tmp, path)


def main(state: Path, url: str, bars: int, kill_after: int = 0) -> int:
    mt5: Mt5Standin = pickle.loads(state.read_bytes())
    module = mt5.as_module()
    sends: list[dict[str, Any]] = []

    def order_send(request: dict[str, Any]) -> Any:
        result = mt5.order_send(request)
        save(mt5, state)  # executed on the terminal: survives a kill before the reply
        sends.append(request)
        if len(sends) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    def sleep(seconds: float) -> None:
        mt5.set_time((mt5.now // 3600 + 1) * 3600 + 2)
        save(mt5, state)

    module.order_send = order_send
    sys.modules["MetaTrader5"] = module
    cfg = load_config(config(resolve_after_s=30))
    LiveRuntime(cfg, Database(url), max_bars=bars, clock=lambda: mt5.now * NS, sleep=sleep).run()
    save(mt5, state)
    return 0


if __name__ == "__main__":
    kill = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), kill))
