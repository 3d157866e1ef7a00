"""The benchmark harness's arithmetic: medians, ratios, consumer rates, the table, wrk output."""

from __future__ import annotations

import pytest

from bench.procs import metric_sum, parse_metrics
from bench.profile import summarise
from bench.seed import clone, is_record
from bench.stats import Figure, Goal, median, percentile, rate_from_samples, render_table
from bench.wrk import parse_wrk

WRK_OUTPUT = """\
Running 4s test @ http://127.0.0.1:41234
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.41ms    8.06ms  94.31ms   83.12%
    Req/Sec   472.10     61.37   580.00     72.50%
  Latency Distribution
     50%   19.87ms
     75%   23.40ms
     90%   30.12ms
     99%    1.02s
  1890 requests in 4.01s, 1.30MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 12
Requests/sec:    471.32
Transfer/sec:    331.80KB
"""


def test_median_of_an_even_number_of_runs_is_the_mean_of_the_middle_two() -> None:
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([]) is None


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_ratio_is_ours_over_the_median_baseline_of_the_same_run() -> None:
    figure = Figure("http", "x", "req/s", ours_runs=[50, 70, 60], baseline_runs=[100, 120, 200])
    assert figure.ours == 60
    assert figure.baseline == 120
    assert figure.ratio == pytest.approx(0.5)


def test_a_ratio_goal_is_met_only_at_or_above_its_floor() -> None:
    goal = Goal("ratio ≥ 0.5", min_ratio=0.5)
    assert Figure("p", "x", "events/s", [50], [100], goal=goal).met is True
    assert Figure("p", "x", "events/s", [49], [100], goal=goal).met is False
    assert Figure("p", "x", "events/s", goal=goal).met is None


def test_an_absolute_goal_looks_at_ours_alone() -> None:
    goal = Goal("ours ≤ 60 s", max_ours=60)
    assert Figure("e2e", "x", "s", [59], [0.01], goal=goal).met is True
    assert Figure("e2e", "x", "s", [61], [100], goal=goal).met is False


def test_consumer_rate_is_the_slope_between_polls_inside_the_window() -> None:
    # 100 events/s from t=1.05 to t=11.05; polls every 0.5 s see it in steps.
    samples = [(t / 2, max(0.0, min(1000.0, (t / 2 - 1.05) * 100))) for t in range(0, 26)]
    assert rate_from_samples(samples, 0, 1000) == pytest.approx(100, rel=0.01)


def test_consumer_rate_of_a_window_shorter_than_two_polls_is_bounded_by_the_polls_around_it() -> (
    None
):
    samples = [(0.0, 10.0), (1.0, 10.0), (2.0, 60.0)]
    assert rate_from_samples(samples, 10, 60) == pytest.approx(50.0)
    assert rate_from_samples([(0.0, 10.0)], 10, 60) is None


def test_the_table_has_one_row_per_figure_and_says_what_is_not_there_yet() -> None:
    ok = Figure(
        "p", "1. metrics", "events/s", [500], [1000], goal=Goal("ratio ≥ 0.5", min_ratio=0.5)
    )
    missing = Figure("e2e", "3. e2e", "s", status="not available yet", note="no inbox")
    table = render_table([ok, missing]).splitlines()
    assert table[0] == "| figure | ours | baseline | ratio | goal |"
    assert table[2] == "| 1. metrics | 500 events/s | 1,000 events/s | 0.500 | ratio ≥ 0.5 ✓ |"
    assert table[3] == "| 3. e2e | not available yet | — | — | — |"


def test_wrk_latency_output_gives_throughput_percentiles_and_errors() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 1890
    assert result.requests_per_s == 471.32
    assert result.p50_ms == pytest.approx(19.87)
    assert result.p99_ms == pytest.approx(1020.0)
    assert result.non_2xx == 12
    assert result.socket_errors == 3


def test_wrk_output_without_a_rate_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_consumed_events_are_summed_from_prometheus_text_leaving_retries_out() -> None:
    text = (
        "# TYPE tongxin_consumer_events_total counter\n"
        'tongxin_consumer_events_total{service="metrics",topic="a",type="t",outcome="handled"} 7\n'
        'tongxin_consumer_events_total{service="metrics",topic="b",type="t",outcome="ignored"} 2\n'
        'tongxin_consumer_events_total{service="metrics",topic="a",type="t",outcome="retried"} 5\n'
        'tongxin_consumer_events_total{service="notify",topic="a",type="t",outcome="handled"} 9\n'
    )
    samples = parse_metrics(text)
    taken = metric_sum(
        samples,
        "tongxin_consumer_events_total",
        exclude={"outcome": {"retried"}},
        service="metrics",
    )
    assert taken == 9


def test_a_clone_of_a_stored_document_is_another_record_in_another_district() -> None:
    need_id = "0b7e6f3c-3a52-4e0f-9d7a-2f1c5b8e9a10"
    commit = {
        "_id": f"{need_id}:0000000001",
        "aggregate_id": need_id,
        "state": {"community_id": "benchcity.s0.c3", "requester": {"phone": "13800001234"}},
        "events": [{"body": f'{{"subject": "{need_id}", "community": "benchcity.s0.c3"}}'}],
        "version": 1,
    }
    a, b = clone(commit, 1), clone(commit, 2)
    assert a["_id"] != commit["_id"] and a["_id"] != b["_id"]
    # Every reference to the same id is rewritten the same way.
    assert a["_id"] == f"{a['aggregate_id']}:0000000001"
    assert a["aggregate_id"] in a["events"][0]["body"]
    assert a["state"]["community_id"].startswith("benchseed.")
    assert "benchcity" not in a["events"][0]["body"]
    assert a["state"]["requester"]["phone"] != "13800001234"
    assert a["version"] == 1


def test_a_clone_of_a_document_keyed_by_community_belongs_to_one_of_1000_others() -> None:
    assert clone({"_id": "benchcity.s0.c3"}, 1234)["_id"] == "benchseed.s2.c34"
    assert clone({"_id": "benchcity.s0.c3"}, 2234)["_id"] == "benchseed.s2.c34"


def test_only_records_are_cloned_not_a_service_s_own_singletons() -> None:
    assert is_record({"_id": "0b7e6f3c-3a52-4e0f-9d7a-2f1c5b8e9a10:inapp"})
    assert is_record({"_id": "benchcity.s0.c3"})
    assert not is_record({"_id": "pointer"})
    assert not is_record({"_id": 42})


def test_a_profile_summary_ranks_self_time_and_our_own_frames_by_samples() -> None:
    collapsed = (
        "main (x.py:1);handle (/srv/services/metrics/projection.py:10);find (pymongo/c.py:5) 30\n"
        "main (x.py:1);handle (/srv/services/metrics/projection.py:10) 10\n"
        "main (x.py:1);poll (/srv/shared/kafka/consumer.py:99);select (selectors.py:1) 60\n"
    )
    summary = summarise("metrics", collapsed)
    assert summary.samples == 100
    assert summary.self_top[0] == ("select (selectors.py:1)", 60)
    assert summary.inclusive_top == [
        ("poll (/srv/shared/kafka/consumer.py:99)", 60),
        ("handle (/srv/services/metrics/projection.py:10)", 40),
    ]
