"""Result records (biogans.core.records): typed files, one format per tool, read back checked.

No task runs here: records are written and read as a task and the report would, including
the files of the previous release (v1) and files that are broken in every way a disk or
a person can break them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from biogans.core.errors import BiogansError
from biogans.core.records import (
    RECORD_CLASSES,
    RECORD_FILES,
    C2STRecord,
    GeneratorInfo,
    ImageReconstruction,
    InterpolationRecord,
    PreparedSet,
    PrepareRecord,
    ReconstructionRecord,
    ReconstructionSummary,
    RecordError,
    SetClasses,
    TrainRecord,
    load_records,
    median_mad,
    percentile,
    read_record,
    write_record,
)

CONFIG = {"loss": {"name": "wgangp"}, "split": 3, "progress": False}


def c2st_done(**kw) -> C2STRecord:
    fields = {
        "status": "done",
        "config": CONFIG,
        "mode": "real_vs_real",
        "score": -0.5,
        "loss": "wgangp",
        "split": 3,
        "a": SetClasses("train", ["Alp14"]),
        "b": SetClasses("test", ["Tea1"]),
        "train_curve": [[1, 0.5]],
    }
    return C2STRecord(**{**fields, **kw})


def reconstruction_done() -> ReconstructionRecord:
    images = [ImageReconstruction("Alp14", "Alp14/a.png", l2=0.1, nll=140.0), ImageReconstruction("Alp14", "b.png")]
    summary = ReconstructionSummary(n=2, l2_median=0.1, l2_mad=0.0, nll_median=140.0, nll_mad=0.0)
    return ReconstructionRecord(status="done", config=CONFIG, generator=GeneratorInfo("/g.pt", "star", "star", 5),
                                classes=["Alp14"], images=images, per_class={"Alp14": summary}, overall=summary)  # fmt: skip


@pytest.mark.parametrize(
    "record",
    [
        c2st_done(),
        c2st_done(mode="fake_vs_real", a=None, b=None, generator=GeneratorInfo("/r/checkpoints/last.pt", "dcgan"),
                  real=SetClasses("test", ["Alp14", "Tea1"]), per_class={"Alp14": -1.0, "Tea1": 0.0}),
        reconstruction_done(),
        TrainRecord(status="interrupted", config=CONFIG, iteration=7, iterations=10, model="star", last={"loss": 1.5}),
        PrepareRecord(status="done", config=CONFIG, splits_dir="/s", n_splits=2,
                      sets={"train": PreparedSet("/t", {"Alp14": 4}, ["/s/train/split_0.json"])}),
        InterpolationRecord(status="done", config=CONFIG, generator="/g.pt", points=[1, 2, 3], files={"gif": "a.gif"}),
    ],
    ids=["c2st-real", "c2st-fake", "reconstruction", "train", "prepare", "interpolation"],
)  # fmt: skip
def test_every_record_reads_back_equal(record, tmp_path):
    path = write_record(tmp_path, record)
    assert path == tmp_path / RECORD_FILES[record.TOOL]
    data = json.loads(path.read_text())
    assert list(data)[:3] == ["format", "status", "error"] and list(data)[-1] == "config"
    assert data["format"] == f"biogans-{record.NAME}-v2" and data["config"] == CONFIG
    assert read_record(path) == record
    assert [f.record for f in load_records(tmp_path).found] == [record]


def test_the_file_keeps_the_previous_layout(tmp_path):
    """The keys of the previous release stay: real vs real has no "real", an image its "class"."""
    data = json.loads(write_record(tmp_path, c2st_done()).read_text())
    assert "real" not in data and data["a"] == {"set": "train", "classes": ["Alp14"]} and data["generator"] is None
    data = json.loads(write_record(tmp_path, reconstruction_done()).read_text())
    assert data["images"][0]["class"] == "Alp14" and data["per_class"]["Alp14"]["n"] == 2


def test_files_of_the_previous_release_are_read_without_a_config(tmp_path):
    v1 = {"format": "biogans-c2st-v1", "mode": "real_vs_real", "score": -1.0, "loss": "gan", "split": 0,
          "a": {"set": "train", "classes": ["Alp14"]}, "b": {"set": "test", "classes": ["Alp14"]}}  # fmt: skip
    (tmp_path / "c2st.json").write_text(json.dumps(v1))
    record = read_record(tmp_path / "c2st.json")
    assert isinstance(record, C2STRecord) and (record.status, record.config, record.score) == ("done", None, -1.0)
    metrics = {"status": "failed", "iteration": 3, "iterations": 10, "model": "dcgan", "error": "boom"}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))  # v1 metrics.json had no format tag
    train = read_record(tmp_path / "metrics.json")
    assert isinstance(train, TrainRecord) and (train.status, train.error, train.iteration) == ("failed", "boom", 3)
    (tmp_path / "prepare.json").write_text(json.dumps({"splits_dir": "/s", "n_splits": 10, "sets": {}}))
    assert read_record(tmp_path / "prepare.json").config is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "unreadable (JSONDecodeError"),
        ("[1, 2]", "holds a list, not an object"),
        ('{"format": "biogans-c2st-v3"}', "is not a biogans C2ST result (format 'biogans-c2st-v3'"),
        ('{"format": "something else"}', "this biogans reads 'biogans-c2st-v2' and 'biogans-c2st-v1'"),
        ('{"format": "biogans-reconstruction-v2", "status": "done"}', "a reconstruction record"),
        ('{"format": "biogans-c2st-v2", "status": "finished"}', "unknown status 'finished'"),
        ('{"format": "biogans-c2st-v2", "status": "done", "mode": "real_vs_real"}', "has no 'score'"),
        ('{"format": "biogans-c2st-v2", "status": "done", "score": "high"}', "score should be a number, got 'high'"),
        ('{"format": "biogans-c2st-v2", "status": "running", "a": {"classes": []}}', "has no 'a.set'"),
        ('{"format": "biogans-c2st-v2", "status": "running", "per_class": {"A": null}}',
         "per_class['A'] should be a number, got None"),
        (('{"format": "biogans-c2st-v2", "status": "done", "mode": "fake_vs_real", "score": NaN, "loss": "gan", '
          '"split": 0}'), "non-finite score"),
    ],
)  # fmt: skip
def test_a_broken_file_is_refused_naming_the_file_and_the_problem(content, message, tmp_path):
    path = tmp_path / "c2st.json"
    path.write_text(content)
    with pytest.raises(RecordError) as exc:
        read_record(path)
    assert isinstance(exc.value, BiogansError) and str(exc.value).startswith(f"{path}: ")
    assert message in str(exc.value)
    found = load_records(tmp_path).found  # a scan keeps going and says why
    assert len(found) == 1 and found[0].record is None and message in str(found[0].error)


def test_a_done_run_must_have_its_results(tmp_path):
    write_record(tmp_path, C2STRecord(status="running", config=CONFIG))  # running: no results yet, fine
    assert read_record(tmp_path / "c2st.json").score is None
    data = {**reconstruction_done().to_dict(), "per_class": {}}
    (tmp_path / "reconstruction.json").write_text(json.dumps(data))
    with pytest.raises(RecordError, match="has no summary of class 'Alp14'"):
        read_record(tmp_path / "reconstruction.json")
    with pytest.raises(ValueError, match="status must be one of"):
        write_record(tmp_path, C2STRecord(status="finished"))
    with pytest.raises(RecordError, match="not a result record"):
        read_record(tmp_path / "notes.json")


def test_a_scan_finds_records_and_runs_that_left_none(tmp_path):
    write_record(tmp_path / "sweep" / "0", c2st_done())
    write_record(tmp_path / "sweep" / "0" / "tb", c2st_done())  # TensorBoard's folder is not entered
    write_record(tmp_path / "sweep" / ".hidden", c2st_done())
    killed = tmp_path / "sweep" / "1"
    (killed / ".hydra").mkdir(parents=True)
    (killed / ".hydra" / "hydra.yaml").write_text("hydra:\n  job:\n    name: reconstruct\n    chdir: null\n")
    (killed / ".hydra" / "overrides.yaml").write_text("- trials=2\n")
    (killed / "reconstruct.log").write_text("")
    scan = load_records(tmp_path)
    assert [f.path for f in scan.found] == [tmp_path / "sweep" / "0" / "c2st.json"]
    assert scan.found[0].state().status == "done" and scan.found[0].state().log is None
    (bare,) = scan.bare
    assert (bare.tool, bare.status, bare.path, bare.detail) == ("reconstruct", "no record", str(killed), "trials=2")
    assert bare.log == str(killed / "reconstruct.log")
    assert load_records(tmp_path, skip=[tmp_path / "sweep" / "0" / "c2st.json"]).found == []
    assert len(load_records(tmp_path / "sweep" / "0" / "c2st.json").found) == 1  # one file


def test_failed_run_state_names_its_error_and_log(tmp_path):
    write_record(tmp_path, TrainRecord(status="failed", config=CONFIG, iteration=4, iterations=9, error="loss nan"))
    (tmp_path / "train.log").write_text("")
    state = load_records(tmp_path).found[0].state()
    assert (state.tool, state.status, state.detail) == ("train", "failed", "iteration 4 of 9; loss nan")
    assert state.log == str(tmp_path / "train.log")


def test_one_record_class_per_tool_file():
    assert set(RECORD_CLASSES) == set(RECORD_FILES)
    assert len({cls.format_tag() for cls in RECORD_CLASSES.values()}) == len(RECORD_CLASSES)


def test_summaries():
    assert median_mad([1, 2, 3, 4, 100]) == (3.0, 1.0) and median_mad([4, 1, 3, 2]) == (2.5, 1.0)
    assert percentile([1.0, 2.0, 4.0], 10) == pytest.approx(1.2) and percentile([3.0], 90) == 3.0


def test_records_need_no_hydra_and_no_torch():
    code = (
        "import sys, biogans.core.records, biogans.tasks.contract; "
        "print(sorted(m for m in ('hydra', 'omegaconf', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_tasks_and_report_declare_formats_only_through_records():
    """Format tags are written once: no task or report module spells one out."""
    for path in (ROOT / "biogans").rglob("*.py"):
        if path.name != "records.py":
            assert not any(f'"biogans-{n}-v' in path.read_text() for n in ("c2st", "reconstruction", "report")), path


def test_record_paths_are_relative_to_the_run_dir(tmp_path):
    assert write_record(tmp_path / "a" / "b", c2st_done()) == Path(tmp_path / "a" / "b" / "c2st.json")
