"""The write-ahead log: records round-trip, a torn tail is cut, a corrupt log is set aside."""

from __future__ import annotations

import logging

import pytest

from exporter.wal import WriteAheadLog


def written(path, n: int, start_at: float = 1000.0) -> WriteAheadLog:
    wal = WriteAheadLog(path)
    assert wal.open() == []
    for i in range(n):
        wal.append(f"key-{i}", bytes([i]) * (10 + i), at=start_at + i)
    wal.sync()
    wal.close()
    return wal


def test_records_round_trip_in_order(tmp_path):
    path = tmp_path / "state.json.wal"
    written(path, 3)
    wal = WriteAheadLog(path)
    records = wal.open()
    assert [(r.seq, r.key, r.payload, r.at) for r in records] == [
        (1, "key-0", b"\0" * 10, 1000.0), (2, "key-1", b"\1" * 11, 1001.0), (3, "key-2", b"\2" * 12, 1002.0)]
    assert [r.seq for r in WriteAheadLog(path).open(after=2)] == [3]
    assert wal.append("next", b"x", 1.0) == 4  # appends go on after the last record


def test_one_fsync_for_all_records_appended_before_it(tmp_path):
    wal = WriteAheadLog(tmp_path / "w")
    wal.open()
    for i in range(5):
        wal.append("", b"p", 1.0)
    wal.sync()
    wal.sync()  # nothing new: no fsync
    assert (wal.fsyncs, wal.synced_seq) == (1, 5)


@pytest.mark.parametrize("cut", [1, 5, 12, 20, 30])
def test_a_torn_last_record_is_dropped(tmp_path, caplog, cut):
    path = tmp_path / "w"
    written(path, 3)
    data = path.read_bytes()
    path.write_bytes(data + data[:cut])  # a fourth record cut off mid-write (its copy of record 1's bytes)
    with caplog.at_level(logging.WARNING, logger="exporter.wal"):
        wal = WriteAheadLog(path)
        assert [r.seq for r in wal.open()] == [1, 2, 3]
    assert path.read_bytes() == data
    assert "a torn last record" in caplog.text
    assert wal.append("k", b"p", 1.0) == 4
    wal.sync()
    assert [r.seq for r in WriteAheadLog(path).open()] == [1, 2, 3, 4]


def test_zeroes_after_the_last_record_are_a_torn_write(tmp_path):
    path = tmp_path / "w"
    written(path, 2)
    path.write_bytes(path.read_bytes() + b"\0" * 4096)  # space the filesystem gave, never written
    assert [r.seq for r in WriteAheadLog(path).open()] == [1, 2]
    assert not list(tmp_path.glob("w.corrupt-*"))


def test_a_corrupt_log_is_set_aside_and_never_stops_the_start(tmp_path, caplog):
    path = tmp_path / "w"
    written(path, 3)
    data = bytearray(path.read_bytes())
    first = len(data) // 3
    data[first + 20] ^= 0xFF  # a flipped bit inside record 2, with record 3 after it
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="exporter.wal"):
        wal = WriteAheadLog(path)
        assert [r.seq for r in wal.open()] == [1]
    (aside,) = tmp_path.glob("w.corrupt-*")
    assert aside.read_bytes() == bytes(data)
    assert "is corrupt at byte" in caplog.text and "bad checksum" in caplog.text
    assert path.read_bytes() == b"" and wal.append("k", b"p", 1.0) == 2


def test_reset_empties_the_log_and_numbers_go_on(tmp_path):
    path = tmp_path / "w"
    wal = written(path, 3)
    wal = WriteAheadLog(path)
    wal.open()
    wal.reset()
    assert path.read_bytes() == b""
    assert wal.append("k", b"p", 1.0) == 4
    wal.sync()
    assert [r.seq for r in WriteAheadLog(path).open(after=3)] == [4]
