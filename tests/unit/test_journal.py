import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from harness import journal
from harness.journal import Journal, complete_end, logical_size, seal
from harness.runner.records import read_lines


def test_lines_appended_are_in_the_file_before_close_and_the_file_is_cut_at_close(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.append(b'{"a": 1}\n')
    data = path.read_bytes()
    assert data.startswith(b'{"a": 1}\n')
    assert len(data) == journal.CHUNK  # mapped a chunk at a time: the rest is NUL
    assert complete_end(data) == len(b'{"a": 1}\n')
    j.close()
    assert path.read_bytes() == b'{"a": 1}\n'


def test_a_line_across_a_chunk_boundary_is_whole(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(journal, "CHUNK", 4096 * 4)  # still a multiple of the granularity
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    lines = [json.dumps({"i": i, "pad": "x" * (i % 700)}).encode() + b"\n" for i in range(300)]
    for line in lines:
        j.append(line)
    j.close()
    assert path.read_bytes() == b"".join(lines)
    assert [r["i"] for r in read_lines(path)] == list(range(300))


def test_appending_to_an_existing_file_keeps_what_it_had(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"first": true}\n')
    j = Journal(path)
    j.append(b'{"second": true}\n')
    j.close()
    assert path.read_bytes() == b'{"first": true}\n{"second": true}\n'


def test_a_reader_stops_at_the_first_nul_even_past_a_newline() -> None:
    # a line being stored can show its newline before its first bytes to a reader
    assert complete_end(b'{"a": 1}\n\0\0\0"b": 2}\n') == len(b'{"a": 1}\n')
    assert complete_end(b'{"a": 1}\n{"b"') == len(b'{"a": 1}\n')
    assert complete_end(b"\0\0") == 0


def test_seal_cuts_a_killed_writers_tail_and_ends_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": ' + b"\0" * 5000)
    assert logical_size(path) == len(b'{"a": 1}\n{"b": ')
    assert seal(path) == len(b'{"a": 1}\n{"b": \n')
    assert path.read_bytes() == b'{"a": 1}\n{"b": \n'
    assert read_lines(path) == [{"a": 1}]


WRITER = """
import sys
from pathlib import Path
from harness.journal import Journal
j = Journal(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    j.append(b'{"i": %d}\\n' % i)
print("written", flush=True)
sys.stdin.read()  # until killed
"""


def test_every_line_stored_survives_a_kill_9_of_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "5000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "written"
            os.kill(writer.pid, signal.SIGKILL)
        finally:
            writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert path.stat().st_size > logical_size(path)  # never closed: its NUL tail is there
    assert [r["i"] for r in read_lines(path)] == list(range(5000))
    seal(path)
    assert path.read_bytes().endswith(b'{"i": 4999}\n')
