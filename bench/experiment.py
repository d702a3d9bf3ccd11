"""A 1,000-case experiment with the default model, end to end through Celery, against the engine alone.

    python bench/experiment.py [--cases 1000] [--max-new-tokens 32] [--batch-items N] [--rounds 2]

Uses a throwaway SQLite database in a temporary ASSAY_DATA_DIR unless DATABASE_URL is set, and an
embedded Redis on a socket of its own unless REDIS_URL is set. Starts one real Celery worker process
(queues default and cpu, concurrency 1) and warms it up (the model loads once per process). Each round
times a fresh experiment (outputs are not reused) from `start_experiment` until every run is done
(`wall_s`), then, while the worker idles, calls the engine directly in this process on the same
rendered prompts in one call, its best configuration (`engine_s`). Rounds alternate so that load from
elsewhere on the machine hits both; the best of each is kept. `overhead_vs_engine` = wall_s / engine_s;
the target is < 1.10.

Before that, what a new user feels (`--first-cases 128`, 48 tokens, a summary prompt with a `contains`
scorer): a fresh worker is started and sent the warm-up task as `make run` sends it, a first experiment
is started at once and timed from `start_experiment` until every output is scored (`cold_s`), then a
second one like it on the same worker (`warm_s`). The model file's one-time conversion is done by this
process beforehand (it is cached on disk, as after a first `make run`), so `cold_minus_warm_s` is what
a worker's start still costs the first experiment: its model load and whatever else is paid once.

The last line printed is one JSON object with cases, wall_s, tokens_per_s, overhead_vs_engine, cold_s,
warm_s and the figures behind them.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
WORK = Path(tempfile.mkdtemp(prefix="assay-bench-experiment-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
if not os.environ.get("DATABASE_URL"):
    os.environ["ASSAY_DATA_DIR"] = str(WORK)

_redis = None
if not os.environ.get("REDIS_URL") and not os.environ.get("CELERY_BROKER_URL"):
    from config.embedded_redis import EmbeddedRedis

    _redis = EmbeddedRedis(WORK / "redis.sock", persist=False)
    _redis.start()
    atexit.register(_redis.stop)
    os.environ["CELERY_BROKER_URL"] = _redis.url

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from accounts.models import Team  # noqa: E402
from experiments.importing import CaseData  # noqa: E402
from experiments.models import Dataset, Experiment, Generation, RunBatch, SnapshotEntry, Status  # noqa: E402
from experiments.rendering import PromptContent, render_prompt  # noqa: E402
from experiments.seed import TICKETS  # noqa: E402
from experiments.services import datasets, grid, prompts  # noqa: E402
from llmcore.engine.params import InferenceParams  # noqa: E402
from llmcore.engine.types import GenerationRequest  # noqa: E402
from llmcore.seed import DEFAULT_GENERATOR_NAME, enable_default_models  # noqa: E402
from tests.factories import make_user  # noqa: E402

OPENINGS = [
    "Hello,",
    "Hi team,",
    "Good morning.",
    "Dear support,",
    "Hey,",
    "To whom it may concern:",
    "",
    "Urgent:",
]
CLOSINGS = [
    "Thanks.",
    "Regards, a customer.",
    "Please help.",
    "Cheers!",
    "",
    "Best wishes.",
    "Thank you in advance.",
]


def ticket_text(i: int) -> str:
    text, _, _, _ = TICKETS[i % len(TICKETS)]
    return (
        f"{OPENINGS[i % len(OPENINGS)]} {text} {CLOSINGS[(i // 3) % len(CLOSINGS)]} (ref {1000 + i})".strip()
    )


SUMMARY = PromptContent(
    system_prompt="You are a support assistant.",
    instruction="Summarise this support ticket in one sentence for the agent who will answer it.\n\n"
    "Ticket: {{ticket}}",
)
CONTAINS = {
    "name": "contains",
    "params": {"strings": ["ticket", "customer"]},
    "threshold": 1.0,
    "weight": 1.0,
}


def build(cases: int, max_new_tokens: int, suffix: str, content: PromptContent | None = None, scorers=()):
    team, _ = Team.objects.get_or_create(slug=f"bench-{suffix}", defaults={"name": f"Bench {suffix}"})
    user = make_user(f"bench-{suffix}-{os.getpid()}", team=team, role="admin")
    model = {m.name: m for m in enable_default_models(team)}[DEFAULT_GENERATOR_NAME]
    dataset = Dataset.objects.create(team=team, name=f"Bench tickets {suffix}", created_by=user)
    datasets.import_cases(
        dataset, user, [CaseData(key=f"B-{i:05d}", inputs={"ticket": ticket_text(i)}) for i in range(cases)]
    )
    content = content or PromptContent(
        system_prompt="You are a support triage assistant.",
        instruction="Classify this support ticket into one topic: billing, technical, account or shipping, "
        "and say why in one sentence.\n\nTicket: {{ticket}}",
    )
    prompt = prompts.create_prompt_template(team, user, f"Bench prompt {suffix}", content, dataset=dataset)
    spec = grid.GridSpec(
        name=f"Bench {cases} cases",
        dataset=dataset,
        prompt_versions=[prompt.versions.get()],
        model_configs=[model],
        param_sets=[grid.ParamSet("greedy", InferenceParams(temperature=0, max_new_tokens=max_new_tokens))],
        scorers=list(scorers),
        reuse_cached=False,
    )
    return user, model, grid.save_experiment(team, user, spec)


def start_worker(batch_items: int, pool: str) -> subprocess.Popen:
    env = dict(os.environ, ASSAY_EXPERIMENT_BATCH_ITEMS=str(batch_items), PYTHONUNBUFFERED="1")
    log = open(WORK / "worker.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,cpu", "--concurrency", "1",
         "-P", pool, "-n", f"bench-{os.getpid()}@%h", "-l", "warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return process


def run_to_end(experiment: Experiment, user, timeout: float) -> float:
    started = time.perf_counter()
    grid.start_experiment(experiment, user, "admin")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiment.refresh_from_db(fields=["status", "message"])
        if experiment.status not in (Status.QUEUED, Status.RUNNING):
            break
        time.sleep(0.1)
    else:
        raise SystemExit(f"the experiment did not finish in {timeout:.0f} s; see {WORK / 'worker.log'}")
    wall = time.perf_counter() - started
    if experiment.status != Status.DONE:
        raise SystemExit(
            f"the experiment ended {experiment.status}: {experiment.message}\n{_runs(experiment)}"
        )
    return wall


def run_until_scored(experiment: Experiment, user, timeout: float) -> float:
    """From start until the experiment is done and every output without an error is scored."""
    started = time.perf_counter()
    run_to_end(experiment, user, timeout)
    deadline = time.monotonic() + timeout
    outputs = Generation.objects.filter(run__experiment=experiment, error="")
    while outputs.filter(scored__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"outputs were not scored in {timeout:.0f} s; see {WORK / 'worker.log'}")
        time.sleep(0.1)
    return time.perf_counter() - started


def _runs(experiment: Experiment) -> str:
    return "\n".join(f"{r.status}: {r.message}" for r in experiment.runs.all())


def engine_requests_for(experiment: Experiment, count: int) -> list[GenerationRequest]:
    version = experiment.prompt_versions.get()
    params = InferenceParams.from_dict(experiment.param_sets[0]["params"])
    cases = datasets.current_versions(experiment.dataset)[:count]
    return [GenerationRequest(render_prompt(version.content(), c.inputs).messages, params) for c in cases]


def engine_requests(experiment: Experiment) -> list[GenerationRequest]:
    run = experiment.runs.get()
    content = run.prompt_version.content()
    params = InferenceParams.from_dict(run.params)
    entries = SnapshotEntry.objects.filter(snapshot=experiment.snapshot).select_related("case_version")
    return [
        GenerationRequest(
            render_prompt(content, e.case_version.inputs).messages, params, key=str(e.case_version_id)
        )
        for e in entries
    ]


def batch_seconds(experiment: Experiment) -> float:
    return sum(
        (b.finished - b.claimed).total_seconds()
        for b in RunBatch.objects.filter(
            run__experiment=experiment, finished__isnull=False, claimed__isnull=False
        )
    )


def engine_seconds(model, experiment: Experiment, chunk: int | None = None) -> tuple[float, int]:
    """The engine on the experiment's prompts in one call, or in calls of `chunk` prompts (in case
    order, as the batch tasks get them)."""
    from llmcore.engine import runtime

    requests = engine_requests(experiment)
    chunk = chunk or len(requests)
    started, tokens = time.perf_counter(), 0
    for offset in range(0, len(requests), chunk):
        results = runtime.generate(model.to_spec(), requests[offset : offset + chunk])
        tokens += sum(r.tokens_out for r in results)
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-items", type=int, default=settings.ASSAY_EXPERIMENT_BATCH_ITEMS)
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternate end-to-end and engine runs; keep the best"
    )
    parser.add_argument("--pool", default="prefork", help="the worker's pool: prefork (as deployed) or solo")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--first-cases", type=int, default=128, help="cases of the cold and warm experiments (0: skip them)"
    )
    parser.add_argument("--first-tokens", type=int, default=48)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    suffix = str(int(time.time()))
    warm_user, model, warm = build(4, args.max_new_tokens, f"{suffix}-warm")
    rounds = [build(args.cases, args.max_new_tokens, f"{suffix}-{i}") for i in range(args.rounds)]
    firsts = [
        build(args.first_cases, args.first_tokens, f"{suffix}-{name}", SUMMARY, [CONTAINS])
        for name in ("cold", "warm")
    ] if args.first_cases else []  # fmt: skip

    from llmcore.engine import runtime

    runtime.generate(model.to_spec(), engine_requests_for(warm, 8))  # load the model in this process too
    worker = start_worker(args.batch_items, args.pool)
    walls, engines, tokens, engine_tokens, errors, in_batches, chunked = [], [], [], [], [], [], []
    first_figures = {}
    try:
        if firsts:
            from config.celery import app

            app.send_task("llmcore.warm_up", queue="cpu")  # as `make run` does once the worker answers
            cold_s, warm_s = (run_until_scored(e, u, args.timeout) for u, _, e in firsts)
            first_figures = {
                "first_cases": args.first_cases,
                "first_tokens": args.first_tokens,
                "cold_s": round(cold_s, 2),
                "warm_s": round(warm_s, 2),
                "cold_minus_warm_s": round(cold_s - warm_s, 2),
            }
            print(
                f"first experiment on a fresh worker {cold_s:.1f} s, the next {warm_s:.1f} s", file=sys.stderr
            )
        warm_s = run_to_end(warm, warm_user, args.timeout)  # the worker loads the model once
        print(f"worker warm-up (loads the model): {warm_s:.1f} s", file=sys.stderr)
        for user, _, experiment in rounds:
            walls.append(run_to_end(experiment, user, args.timeout))
            generations = Generation.objects.filter(run__experiment=experiment)
            tokens.append(sum(generations.values_list("tokens_out", flat=True)))
            errors.append(generations.exclude(error="").count())
            in_batches.append(batch_seconds(experiment))
            # The worker idles while this process generates: nothing else competes for the CPU.
            seconds, produced = engine_seconds(model, experiment)
            engines.append(seconds)
            engine_tokens.append(produced)
            chunked.append(engine_seconds(model, experiment, args.batch_items)[0])
            print(
                f"round: end to end {walls[-1]:.1f} s (inside batch tasks {in_batches[-1]:.1f} s), "
                f"engine alone {seconds:.1f} s in one call, {chunked[-1]:.1f} s in calls of {args.batch_items}",
                file=sys.stderr,
            )
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)

    best = min(range(len(walls)), key=lambda i: walls[i])
    best_engine = min(range(len(engines)), key=lambda i: engines[i])
    figures = {
        "cases": args.cases,
        "errors": errors[best],
        "max_new_tokens": args.max_new_tokens,
        "batch_items": args.batch_items,
        "rounds": args.rounds,
        "wall_s": round(walls[best], 2),
        "tokens_out": tokens[best],
        "tokens_per_s": round(tokens[best] / walls[best], 1),
        "engine_s": round(engines[best_engine], 2),
        "engine_tokens_per_s": round(engine_tokens[best_engine] / engines[best_engine], 1),
        "overhead_vs_engine": round(walls[best] / engines[best_engine], 3),
        "overhead_per_round": [round(w / e, 3) for w, e in zip(walls, engines, strict=True)],
        # The engine called once per batch (same chunks as the batch tasks, no Celery, no database):
        # separates the cost of batching from the cost of the orchestration around it.
        "engine_in_batches_s": round(min(chunked), 2),
        "overhead_vs_engine_in_batches": round(walls[best] / min(chunked), 3),
        # Time spent inside batch tasks (claim to done, engine call included) in the best round: the
        # rest of wall_s is queueing, planning and polling.
        "batch_tasks_s": round(in_batches[best], 2),
        "outside_batches_share": round(1 - in_batches[best] / walls[best], 4),
        "pool": args.pool,
        "database": os.environ.get("DATABASE_URL", "sqlite").split(":")[0],
        **first_figures,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
