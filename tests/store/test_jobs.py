"""The store's jobs view (store/jobs.py) on both backends: runs written again as they
move on, and each job's runs beyond its newest RUNS_KEPT removed when one ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.config.model import Job
from router.store import Transaction
from router.store import jobs as store_jobs
from router.store.values import JobRun
from tests.store.conftest import Backend

START = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


async def test_each_job_keeps_its_newest_runs(backend: Backend,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_jobs, "RUNS_KEPT", 3)
    store = await backend.open()
    try:
        def work(transaction: Transaction) -> None:
            for number in range(5):
                started_at = START + timedelta(minutes=number)
                transaction.jobs.save_run(JobRun(job="backup", run_id=f"r{number}",
                                                 status="started", started_at=started_at))
                transaction.jobs.save_run(JobRun(job="other", run_id=f"r{number}",
                                                 status="started", started_at=started_at))
            transaction.jobs.save_run(JobRun(job="backup", run_id="r4", status="failed",
                                             started_at=START + timedelta(minutes=4),
                                             exit_code=1, ended_at=START + timedelta(hours=1)))

        await store.write(work)
        backup = await store.read(lambda reader: reader.jobs.runs("backup"))
        other = await store.read(lambda reader: reader.jobs.runs("other"))
    finally:
        await store.close()
    assert [(run.run_id, run.status) for run in backup] == [
        ("r4", "failed"), ("r3", "started"), ("r2", "started")]
    assert len(other) == 5  # no run of its ended


async def test_a_job_page_reads_its_bound_of_jobs_by_id_and_counts_all(backend: Backend
                                                                       ) -> None:
    store = await backend.open()

    def work(transaction: Transaction) -> None:
        for number in range(5_000):
            transaction.jobs.add_job(Job(id=f"job-{number:04}"), START)

    await store.write(work)
    found, total = await store.read(lambda reader: reader.jobs.page(
        excluded=["job-0000", "job-0002", "absent"], limit=3))
    await store.close()
    assert [job.id for job in found] == ["job-0001", "job-0003", "job-0004"]
    assert total == 4_998
