"""compare.bench: its measurements have the documented shape (speed itself is not tested)."""
import pytest

from compare import bench


def test_a_small_report_formats_each_measurement():
    step = bench.time_steps("float32", 15, rounds=1)
    assert step["manual_us"] > 0 and step["torch_us"] > 0
    assert step["torch_over_manual"] > 0
    report = {"machine": bench.machine(), "rounds": 1, "steps": [step], "command": bench.lockstep_phases(1)}
    text = bench.format_report(report)
    assert "\nfloat32          15 " in text
    assert "python -m compare --epochs 1, the lockstep run (imports aside):\n  data " in text


def test_bad_rounds_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--rounds", "0"])
    assert exit_.value.code == 2 and capsys.readouterr().err == "error: --rounds 0: must be an integer >= 1\n"
