"""An experiment's results as one JSON document (`manage.py experiment export CODE --format json`): the
grid, one summary per run (pass rate with its 95% interval, mean score, latency, tokens, cost) and every
output in the row shape of exporting.py. Also the ExportRow iterator the JSONL and CSV exports use.

Schema `assay.experiment-results/1`:
    {"schema", "experiment": {code, name, status, message, dataset, snapshot, created, started, finished,
     repeats, scorers, param_sets}, "runs": [{code, label, prompt, prompt_version, model, params, status,
     total, generated, errors, passed, decided, pass_rate, pass_low, pass_high, mean_score, latency_p50_s,
     latency_p95_s, mean_tokens_out, cost}], "generations": [<exporting.jsonl_lines objects>]}
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from . import exporting, results
from .models import Experiment, Generation, Run, TestCaseVersion

RESULTS_SCHEMA = "assay.experiment-results/1"


def export_rows(experiment: Experiment) -> Iterator[exporting.ExportRow]:
    """Every output of the experiment, by run, case and repeat; a few queries per 500 rows."""
    generations = (
        Generation.objects.filter(run__experiment=experiment)
        .select_related("run__prompt_version__template", "case_version__case")
        .prefetch_related("scores")
        .order_by("run_id", "case_version__case__key", "repeat")
    )
    for g in generations.iterator(chunk_size=500):
        version = g.run.prompt_version
        yield exporting.ExportRow(
            experiment=experiment.name,
            run=str(g.run.code),
            prompt=version.template.name,
            prompt_version=version.number,
            model=g.run.model_name,
            params=g.run.params_label,
            case=g.case_version.case.key,
            case_version=g.case_version.number,
            repeat=g.repeat,
            inputs=g.case_version.inputs,
            expected_label=g.case_version.expected_label,
            expected_output=g.case_version.expected_output,
            output=g.text,
            finish_reason=g.finish_reason,
            error=g.error,
            tokens_in=g.tokens_in,
            tokens_out=g.tokens_out,
            latency_s=g.latency_s,
            cost=g.cost,
            weighted_score=g.weighted_score,
            passed=g.passed,
            reused=g.reused_from_id is not None,
            scores=tuple(
                exporting.ExportScore(
                    s.position, s.scorer, s.scorer_version, s.value, s.passed, s.status, s.rationale
                )
                for s in g.scores.all()
            ),
        )


def csv_columns(experiment: Experiment) -> tuple[list[str], list[tuple[int, str]]]:
    """The input names and scorer columns of the experiment's CSV export."""
    names: set[str] = set()
    if experiment.snapshot_id:
        for inputs in TestCaseVersion.objects.filter(snapshots=experiment.snapshot).values_list(
            "inputs", flat=True
        ):
            names.update(inputs)
    return sorted(names), [(i, c.get("name", "")) for i, c in enumerate(experiment.scorers)]


def run_summaries(experiment: Experiment) -> list[tuple[Run, results.RunSummary]]:
    """Each run (prompt template loaded) with its summary: two queries."""
    runs = list(experiment.runs.select_related("prompt_version__template").order_by("id"))
    rows = Generation.objects.filter(run__experiment=experiment).result_rows()
    summaries = results.summarise({run.pk: run.total for run in runs}, rows)
    return [(run, summaries[run.pk]) for run in runs]


def run_dict(run: Run, summary: results.RunSummary) -> dict[str, Any]:
    rate = summary.pass_rate
    return {
        "code": str(run.code),
        "label": run.label,
        "prompt": run.prompt_version.template.name,
        "prompt_version": run.prompt_version.number,
        "model": run.model_name,
        "params": run.params_label,
        "status": run.status,
        "total": summary.total,
        "generated": summary.generated,
        "errors": summary.errors,
        "passed": rate.successes,
        "decided": rate.n,
        "pass_rate": rate.rate,
        "pass_low": rate.low if rate.rate is not None else None,
        "pass_high": rate.high if rate.rate is not None else None,
        "mean_score": summary.mean_score,
        "latency_p50_s": summary.latency.p50,
        "latency_p95_s": summary.latency.p95,
        "mean_tokens_out": summary.mean_tokens_out,
        "cost": str(summary.cost),
    }


def results_document(experiment: Experiment) -> dict[str, Any]:
    experiment = Experiment.objects.select_related("dataset", "snapshot").get(pk=experiment.pk)
    return {
        "schema": RESULTS_SCHEMA,
        "experiment": {
            "code": str(experiment.code),
            "name": experiment.name,
            "status": experiment.status,
            "message": experiment.message,
            "dataset": experiment.dataset.name,
            "snapshot": experiment.snapshot.number if experiment.snapshot else None,
            "created": experiment.created.isoformat(),
            "started": experiment.started.isoformat() if experiment.started else None,
            "finished": experiment.finished.isoformat() if experiment.finished else None,
            "repeats": experiment.repeats,
            "param_sets": experiment.param_sets,
            "scorers": experiment.scorers,
        },
        "runs": [run_dict(run, summary) for run, summary in run_summaries(experiment)],
        "generations": [json.loads(line) for line in exporting.jsonl_lines(export_rows(experiment))],
    }
