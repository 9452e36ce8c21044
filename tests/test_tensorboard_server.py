"""A real `tensorboard --logdir Logs` on 127.0.0.1 shows a run's hparams and images tabs."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.conftest import FAST_WITH_IMAGES

TINY = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200", *FAST_WITH_IMAGES)


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on, or skip the test."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]
    except OSError as error:
        pytest.skip(f"no port on 127.0.0.1 can be had here: {error}")


def answer(url: str, body: dict | None = None, wait_s: float = 90) -> dict:
    """The JSON a TensorBoard URL answers, retried while the server starts."""
    data = json.dumps(body).encode() if body is not None else None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_tensorboard_serves_the_hparams_and_images_of_two_runs(project):
    for seed in ("1", "2"):
        process = project.run(*TINY, "--seed", seed)
        assert process.returncode == 0, process.stderr[-3000:]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(project.logs), "--host",
                               "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/data"
        plugins = answer(f"{base}/plugins_listing")
        assert plugins["hparams"]["enabled"] and plugins["images"]["enabled"]
        images = answer(f"{base}/plugin/images/tags")
        assert {"confusion/val/standard_data", "confusion/test/standard_data"} <= set(
            images["standard_net-standard_data/version_0"])
        experiment = answer(f"{base}/plugin/hparams/experiment", {"experimentName": ""})
        hparams = {info["name"] for info in experiment["hparamInfos"]}
        metrics = {info["name"]["tag"] for info in experiment["metricInfos"]}
        assert {"seed", "batch_size", "val_datasets"} <= hparams
        assert {"val/standard_data/accuracy", "test/standard_data/accuracy"} <= metrics
        groups = answer(f"{base}/plugin/hparams/session_groups",
                        {"experimentName": "", "startIndex": 0, "sliceSize": 10, "allowedStatuses": [
                            "STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
                         "colParams": [], "aggregationType": "AGGREGATION_AVG"})
        tested = {}
        for group in groups["sessionGroups"]:
            values = {value["name"]["tag"]: value["value"] for value in group["metricValues"]}
            tested[group["name"]] = (group["hparams"]["seed"], values["test/standard_data/accuracy"])
        for run_dir in project.run_dirs():
            accuracy = json.loads((run_dir / "results.json").read_text())["test"]["standard_data"]["accuracy"]
            seed = yaml.safe_load((run_dir / "config.yaml").read_text())["seed"]
            assert tested[f"standard_net-standard_data/{run_dir.name}"] == pytest.approx((seed, accuracy))
    finally:
        server.terminate()
        server.wait(timeout=30)
