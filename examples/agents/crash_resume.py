"""Crash, then resume an agent: a worker process runs a payment agent with
``durability="sync"`` and dies (SIGKILL) in the middle of its tool loop; resuming the run
answers the model calls and the tool calls that had finished from the journal, so the card
is charged once and the model is not paid twice.

    python -m examples.agents.crash_resume
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import runtree as rt
from examples.agents.model import example_model, tool_results
from runtree.testing import Reply, tool_call

ROOT = Path(__file__).resolve().parents[2]


def ledger() -> Path:
    return Path(os.environ["RT_EXAMPLE_LEDGER"])


@rt.function_node
def charge_card(amount_eur: int) -> str:
    """Charge the customer's card.

    Args:
        amount_eur: the amount in euros
    """
    with ledger().open("a", encoding="utf-8") as file:
        file.write(f"charged {amount_eur}\n")
    return f"charged {amount_eur} EUR, payment id P-1"


@rt.function_node
def send_receipt(payment_id: str) -> str:
    """Send the receipt of a payment.

    Args:
        payment_id: the id charge_card returned
    """
    if os.environ.get("RT_EXAMPLE_CRASH") == "1":
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies here, mid tool-loop
    return f"receipt for {payment_id} sent"


def scripted(request: Any) -> Reply:
    results = tool_results(request)
    if not results:
        return Reply(tool_calls=[tool_call("charge_card", amount_eur=42)])
    if len(results) == 1:
        return Reply(tool_calls=[tool_call("send_receipt", payment_id="P-1")])
    return Reply("Done: 42 EUR charged and the receipt sent.")


def worker(db: str, base_url: str | None, model: str, resume: str | None) -> None:
    """The worker process: run the agent, journaled with durability="sync"."""
    llm = rt.llm.OpenAILLM(model, base_url=base_url, trust_env=base_url is None)
    agent = rt.agent_node(
        "Cashier",
        tool_nodes=[charge_card, send_receipt],
        llm=llm,
        system_message="Charge the card, then send the receipt.",
    )
    with rt.Session(name="cashier", store=db, durability="sync", resume=resume) as run:
        print(f"run {run.run_id}", flush=True)
        response = rt.call_sync(agent, "Charge 42 EUR and send the receipt.")
    print(f"answer: {response.text}", flush=True)


def run_worker(
    db: Path, llm: Any, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "examples.agents.crash_resume", "--worker", str(db)]
    command += ["--model", llm.model_name()]
    if llm.base_url:
        command += ["--base-url", llm.base_url]
    return subprocess.run(
        command + list(extra), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def main() -> str:
    with example_model(scripted) as chosen, tempfile.TemporaryDirectory() as tmp:
        llm = chosen.llm
        print(f"model: {chosen.where}")
        db = Path(tmp) / "journal.db"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RT_EXAMPLE_LEDGER": str(Path(tmp) / "ledger"),
        }
        env.setdefault("OPENAI_API_KEY", "not-needed")
        env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
        first = run_worker(db, llm, {**env, "RT_EXAMPLE_CRASH": "1"})
        run_id = first.stdout.split()[1]
        print(f"first try: run {run_id} was killed (exit {first.returncode})")
        second = run_worker(db, llm, env, "--resume", run_id)
        if second.returncode != 0:
            raise SystemExit(second.stderr)
        answer = second.stdout.splitlines()[-1]
        print(f"resumed:   {answer}")
        lines = Path(env["RT_EXAMPLE_LEDGER"]).read_text().splitlines()
        print(f"ledger:    {lines} (the card was charged once)")
        if chosen.server is not None:
            print(f"model calls sent to the server: {len(chosen.server.requests)} (3 turns)")
    return answer


def _cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--base-url")
    parser.add_argument("--resume")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.base_url, args.model, args.resume)
    else:
        main()


if __name__ == "__main__":
    _cli()
