"""The incident page's analysis (issue 22 item 2, issue 21's runs) over real loopback HTTP:
the newest run's summary, probable cause, provider, whether the fallback was used and its
recommendations, escaped; a run still going or failed says so; no run, no section."""

from __future__ import annotations

from datetime import timedelta

from router.store.values import AnalysisRun
from tests.web.test_pages import NOW, Site, site, text_of

__all__ = ["site"]
DONE = AnalysisRun(
    id="r2", incident_number=1, provider="openai_compatible", model="llama3.1",
    status="succeeded", fallback_used=True, error="the model answered 500",
    summary="Disk full: looked at <disk>", probable_cause="logs never rotated",
    confidence=0.8,
    recommendations=({"type": "disk", "priority": "high", "title": "/ is 91% full",
                      "description": "2 GiB free", "actions": ["du -xsh /*"], "details": {}},),
    created_at=NOW + timedelta(minutes=1), completed_at=NOW + timedelta(minutes=1, seconds=2))


async def _save(site: Site, run: AnalysisRun) -> None:
    await site.engine.store.write(lambda transaction: transaction.analysis.save(run))


async def test_no_analysis_no_section(site: Site) -> None:
    incident = await site.open_incident("Disk full")
    page = await site.get(f"/ui/incidents/{incident}")
    assert page.status_code == 200
    assert 'id="analysis"' not in page.text


async def test_the_newest_analysis_is_shown_with_its_recommendations(site: Site) -> None:
    incident = await site.open_incident("Disk full")
    await _save(site, AnalysisRun(id="r1", incident_number=1, provider="local",
                                  status="succeeded", summary="an older run",
                                  created_at=NOW))
    await _save(site, DONE)
    page = await site.get(f"/ui/incidents/{incident}")
    text = text_of(page)
    assert "an older run" not in text
    assert ("Analysis Summary Disk full: looked at <disk> "
            "Probable cause logs never rotated (confidence 80%) "
            "Provider openai_compatible (llama3.1), 2026-11-23 12:01:02 UTC "
            "Fallback used yes: the model answered 500 "
            "Recommendations high / is 91% full : 2 GiB free du -xsh /*") in text
    assert "looked at &lt;disk&gt;" in page.text


async def test_a_run_still_going_or_failed_says_so(site: Site) -> None:
    incident = await site.open_incident("Disk full")
    await _save(site, AnalysisRun(id="r1", incident_number=1, provider="local",
                                  status="running", created_at=NOW))
    page = await site.get(f"/ui/incidents/{incident}")
    assert "Being analysed (running, asked 2026-11-23 12:00:00 UTC)." in text_of(page)
    await _save(site, AnalysisRun(id="r2", incident_number=1, provider="local",
                                  status="failed", error="no <model>", created_at=DONE.created_at))
    page = await site.get(f"/ui/incidents/{incident}")
    assert "The analysis failed: no <model>" in text_of(page)
    assert "no &lt;model&gt;" in page.text
