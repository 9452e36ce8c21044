"""Two metrics never log under one name: entries that share a name get their arguments in it, other clashes are
one error line. Real `python main.py` runs (forked, tests/forked_main.py), read back from the run folder."""

import json

import pytest
from conftest import FAST, error_line, linear_net_with_metrics
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TINY = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200", *FAST)
# A net of its own metrics (StandardNet's ten classes), by the names each test gives them.
OWN_METRICS_NET = linear_net_with_metrics("OwnMetricsNet", "from torchmetrics.classification import MulticlassAccuracy",
                                         "{NAME: MulticlassAccuracy(num_classes=10, top_k=10)}")


def finished(fork_server, project, *arguments: str) -> tuple[dict, set[str]]:
    """Run main.py to the end; its results.json and the scalar keys of its TensorBoard events."""
    process = fork_server.run(project.root, *arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()[-1:]
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return json.loads((run_dir / "results.json").read_text()), set(events.Tags()["scalars"])


def test_one_metric_twice_with_other_arguments_logs_two_names_each_its_own_value(fork_server, project):
    dotted = "torchmetrics.classification.MulticlassAccuracy:num_classes=10,average=micro"
    results, keys = finished(fork_server, project, *TINY, "--metrics", "accuracy", "accuracy:top_k=10", dotted)
    for stage in ("val", "test"):
        values = results[stage]["standard_data"]
        assert set(values) == {"loss", "accuracy", "accuracy_top_k_10", "multiclass_accuracy"}
        assert values["accuracy_top_k_10"] == 1.0  # the true class is always among all ten
        assert values["accuracy"] < 1.0
        assert values["multiclass_accuracy"] == values["accuracy"]  # a dotted path logs as its class's snake_case
    assert {"val/standard_data/accuracy", "val/standard_data/accuracy_top_k_10", "val/accuracy_top_k_10",
            "test/standard_data/multiclass_accuracy"} <= keys


def test_a_nets_own_metric_replaces_the_default_of_its_name(fork_server, project):
    project.write("model/own_metrics_net.py", OWN_METRICS_NET.replace("NAME", "'accuracy'"))
    results, _ = finished(fork_server, project, *TINY, "--model_name", "own_metrics_net")
    assert set(results["val"]["standard_data"]) == {"loss", "accuracy", "f1"}
    assert results["val"]["standard_data"]["accuracy"] == 1.0  # the net's top-10, not the default top-1


@pytest.mark.parametrize(("own_name", "arguments", "words"), [
    (None, ("--metrics", "f1", "f1"), "--metrics f1 and f1 would both log as 'f1'"),
    (None, ("--metrics", "accuracy:top_k=5", "accuracy:top_k=5"), "both log as 'accuracy_top_k_5'"),
    ("'accuracy'", ("--metrics", "accuracy", "f1"), "OwnMetricsNet.metrics() names 'accuracy', which --metrics"),
    ("'loss'", (), "OwnMetricsNet.metrics() names a metric 'loss'"),
    ("'top.3'", (), "names a metric 'top.3'"),
    ("'clean/accuracy'", (), "names a metric 'clean/accuracy'"),
], ids=["same-entry-twice", "same-arguments-twice", "net-and-metrics-option", "loss", "dot", "slash"])
def test_two_metrics_of_one_name_are_one_error_line_before_any_run_folder(fork_server, project, own_name, arguments,
                                                                          words):
    if own_name:
        project.write("model/own_metrics_net.py", OWN_METRICS_NET.replace("NAME", own_name))
    net = ("--model_name", "own_metrics_net") if own_name else ()
    assert words in error_line(fork_server.run(project.root, *TINY, *net, *arguments))
    assert not project.logs.exists()


def test_a_long_metric_name_widens_its_column_of_the_results_table_so_values_stay_under_it():
    from utils.runs.results import results_table

    table = results_table({"val": {"a": {"loss": 1.0, "accuracy_average_macro": 0.5}, "b": {"loss": 2.0}}})
    header, *rows = table.splitlines()
    end = header.index("accuracy_average_macro") + len("accuracy_average_macro")
    assert [row[end - len(cell):end] for row, cell in zip(rows, ("0.5000", "-"), strict=True)] == ["0.5000", "-"]


def test_a_nets_own_metric_of_one_number_a_class_logs_each_under_its_own_name(fork_server, project):
    # torchmetrics' ClasswiseWrapper gives a dict of numbers, which the MetricCollection logs entry by entry.
    imports = "from torchmetrics.wrappers import ClasswiseWrapper\nfrom torchmetrics.classification"
    metrics = "'per_class': ClasswiseWrapper(MulticlassAccuracy(num_classes=10, average=None))"
    project.write("model/own_metrics_net.py", OWN_METRICS_NET.replace("from torchmetrics.classification", imports)
                  .replace("NAME: MulticlassAccuracy(num_classes=10, top_k=10)", metrics))
    results, keys = finished(fork_server, project, *TINY, "--model_name", "own_metrics_net", "--monitor",
                             "val/multiclassaccuracy_3")
    values = results["val"]["standard_data"]
    assert {f"multiclassaccuracy_{index}" for index in range(10)} <= set(values), values
    assert "val/standard_data/multiclassaccuracy_0" in keys
    line = error_line(fork_server.run(project.root, *TINY, "--model_name", "own_metrics_net", "--monitor",
                                      "val/per_class"))
    assert line.startswith("error: --monitor val/per_class is not a key this run logs"), line
    assert "val/multiclassaccuracy_3" in line, line
