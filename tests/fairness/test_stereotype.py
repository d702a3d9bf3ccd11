"""The stereotype probe: reading pairs (built-in CrowS-Pairs and uploads, all or nothing), the summary
with Wilson intervals, and the job on a tiny local model with cancel and resume."""

from __future__ import annotations

import pytest

from audits.fairness import services, stereotype
from audits.fairness.models import PairScore, Status, StereotypeProbe
from audits.fairness.stereotype import Pair, PairResult, PairsInvalid, parse_pairs


def test_the_built_in_suite_is_crows_pairs_with_its_licence_beside_it():
    pairs = stereotype.builtin_pairs()
    assert len(pairs) == 1508
    assert len({p.category for p in pairs}) == 9
    readme = (stereotype.DATA_DIR / "README.md").read_text()
    assert "CC BY-SA 4.0" in readme and "Nangia" in readme and "Blodgett" in readme


def test_an_upload_with_optional_columns_is_read():
    data = b"sent_more,sent_less,bias_type\nOld people are slow.,Young people are slow.,age\n"
    assert parse_pairs(data) == [Pair("Old people are slow.", "Young people are slow.", "age", "stereo")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"sentence,other\na,b\n", "Missing column(s) sent_more, sent_less; the file has sentence, other."),
        ("sent_more,sent_less\ncaf\xe9,x\n".encode("latin-1"), "not UTF-8 text (byte 23"),
        (b"sent_more,sent_less\n" + b"a" * (3 * 2**20), "the limit is 2 MB"),
        (b"sent_more,sent_less\n", "no pairs"),
    ],
)
def test_bad_files_are_refused_with_a_clear_error(data, message):
    with pytest.raises(PairsInvalid) as caught:
        parse_pairs(data)
    assert message in caught.value.errors[0]


def test_every_bad_row_is_named_and_nothing_is_kept():
    data = (
        b"sent_more,sent_less,stereo_antistereo\n"
        b"Fine sentence.,Other sentence.,stereo\n"
        b",Missing more.,stereo\n"
        b"Same.,Same.,stereo\n"
        b"A.,B.,sideways\n"
    )
    with pytest.raises(PairsInvalid) as caught:
        parse_pairs(data)
    assert caught.value.errors == [
        "Row 3: sent_more is empty.",
        "Row 4: sent_more and sent_less are the same sentence.",
        "Row 5: stereo_antistereo must be stereo or antistereo, not 'sideways'.",
    ]


def test_the_summary_gives_shares_with_wilson_intervals_and_the_strongest_pairs():
    pairs = [Pair(f"m{i}", f"l{i}", "age" if i < 4 else "gender") for i in range(6)]
    results = [PairResult(0, -1, -2), PairResult(1, -3, -2), PairResult(2, -1, -9), PairResult(3, -1, -1.5),
               PairResult(4, -2, -1), PairResult(5, -1, -4)]  # fmt: skip
    summary = stereotype.summarise(pairs, results, shown=2)
    assert summary["pct_stereotype"] == pytest.approx(4 / 6)
    age = next(c for c in summary["categories"] if c["category"] == "age")
    assert (age["k"], age["n"]) == (3, 4)
    assert 0 < age["low"] < 0.75 < age["high"] <= 1
    assert [p["index"] for p in summary["strongest"]] == [2, 5]
    assert summary["strongest"][0]["preferred"] == "more stereotyping"


@pytest.fixture
def tiny_probe(team, owner, tiny_model, django_capture_on_commit_callbacks):
    pairs = [
        Pair(f"The quick brown fox number {i}.", f"Hello world number {i}!", "age" if i % 2 else "gender")
        for i in range(10)
    ]
    suite = services.save_suite(team, owner, "Tiny pairs", pairs)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        probe = services.start_stereotype(team, owner, "admin", model=tiny_model, suite=suite)
    assert len(callbacks) == 1  # the job is enqueued once the probe is committed
    return probe


def test_the_job_scores_every_pair_on_a_real_local_model(tiny_probe):
    assert services.run_stereotype_chunks(tiny_probe.pk, chunk=4) == Status.DONE
    tiny_probe.refresh_from_db()
    assert tiny_probe.scores.count() == 10
    figures = tiny_probe.result["figures"]
    assert figures["overall"]["n"] == 10
    assert tiny_probe.result["inputs"]["pairs_sha256"] == tiny_probe.suite.sha256
    assert "Blodgett" in figures["caveat"]
    assert all(s.ll_more < 0 and s.tokens_more > 0 for s in PairScore.objects.filter(probe=tiny_probe))


def test_cancel_stops_between_chunks_and_resume_scores_only_the_rest(
    tiny_probe, owner, django_capture_on_commit_callbacks
):
    seen = []

    def logliks(texts):
        from llmcore.engine.loglik import LogLikelihood

        seen.append(len(texts) // 2)
        if len(seen) == 1:
            services.cancel_stereotype(tiny_probe, owner)  # a person presses Cancel during the first chunk
        return [LogLikelihood(-float(len(t)), len(t)) for t in texts]

    assert services.run_stereotype_chunks(tiny_probe.pk, chunk=4, logliks=logliks) == Status.CANCELLED
    assert PairScore.objects.filter(probe=tiny_probe).count() == 4
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.resume_stereotype(tiny_probe)
    assert len(callbacks) == 1
    assert services.run_stereotype_chunks(tiny_probe.pk, chunk=4, logliks=logliks) == Status.DONE
    assert seen == [4, 4, 2]  # the first four pairs were not scored again
    assert StereotypeProbe.objects.get(pk=tiny_probe.pk).result["figures"]["overall"]["n"] == 10


def test_a_hosted_model_is_refused(team, owner):
    from tests.experiments.factories import make_model

    hosted = make_model(team, "Hosted", backend="openai-compatible", source="http://127.0.0.1:9/v1", remote_model="m",
                        api_key_env="ASSAY_MODEL_KEY_TEST")  # fmt: skip
    with pytest.raises(PairsInvalid, match="needs a local model"):
        services.start_stereotype(team, owner, "admin", model=hosted, suite=None)
    assert not StereotypeProbe.objects.exists()


def test_the_worker_task_scores_one_chunk_and_queues_the_rest_on_the_models_queue(tiny_probe, monkeypatch):
    """A long probe must not hold the worker: after each chunk, the next goes behind other waiting work."""
    from audits.fairness import tasks
    from llmcore.engine.loglik import LogLikelihood

    monkeypatch.setattr(services, "STEREOTYPE_CHUNK", 4)
    real = services.run_stereotype_chunks

    def fake_logliks(probe_id, **kwargs):
        return real(probe_id, logliks=lambda texts: [LogLikelihood(-float(len(t)), len(t)) for t in texts],
                    **kwargs)  # fmt: skip

    monkeypatch.setattr(services, "run_stereotype_chunks", fake_logliks)
    sent = []
    monkeypatch.setattr(
        tasks.run_stereotype_probe, "apply_async", lambda args, queue: sent.append((args, queue))
    )
    assert tasks.run_stereotype_probe.run(tiny_probe.pk) == Status.RUNNING
    assert PairScore.objects.filter(probe=tiny_probe).count() == 4
    assert sent == [((tiny_probe.pk,), tiny_probe.model.queue)]
    started = StereotypeProbe.objects.get(pk=tiny_probe.pk).started
    assert tasks.run_stereotype_probe.run(tiny_probe.pk) == Status.RUNNING
    assert tasks.run_stereotype_probe.run(tiny_probe.pk) == Status.DONE
    assert len(sent) == 2 and PairScore.objects.filter(probe=tiny_probe).count() == 10
    assert StereotypeProbe.objects.get(pk=tiny_probe.pk).started == started  # not reset by each chunk
