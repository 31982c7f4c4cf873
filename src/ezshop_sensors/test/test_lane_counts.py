"""The lane counts file: round trip, a missing file, a damaged one, bad entries, the bare
counts of an older version (plain)."""

from ezshop_sensors.lane_counts import KeptLane, load_counts, save_counts

A1, B2 = ('shelf_a', 'lane_1'), ('shelf_b', 'lane_2')


def test_counts_survive_a_round_trip_and_a_missing_file_is_no_problem(tmp_path):
    path = tmp_path / 'deep' / 'lane_counts.json'
    assert load_counts(path) == ({}, '')
    kept = {A1: KeptLane(4, counted_ns=10, read_ns=20), B2: KeptLane(0)}
    save_counts(path, kept)
    assert load_counts(path) == (kept, '')
    save_counts(path, {A1: KeptLane(3, 30, 40)})
    assert load_counts(path)[0] == {A1: KeptLane(3, 30, 40)}
    assert [p.name for p in path.parent.iterdir()] == ['lane_counts.json']  # no temp left


def test_a_damaged_file_or_bad_entries_are_said_and_skipped(tmp_path):
    path = tmp_path / 'lane_counts.json'
    path.write_text('{"shelf_a/lane_1": 4, "shelf_a/lane_2": -1, "nolane": 2, "x/y": "3"')
    counts, problem = load_counts(path)
    assert counts == {} and 'unreadable' in problem
    path.write_text('{"shelf_a/lane_1": 4, "shelf_a/lane_2": -1, "nolane": 2, "x/y": "3", '
                    '"shelf_b/lane_1": {"count": 2, "read_ns": -5}, "shelf_b/lane_3": {}, '
                    '"shelf_b/lane_2": {"count": 5, "counted_ns": 7}}')
    counts, problem = load_counts(path)
    # A bare count (an older version's file) is a lane kept without stamps.
    assert counts == {A1: KeptLane(4), B2: KeptLane(5, counted_ns=7)}
    for bad in ('shelf_a/lane_2', 'nolane', 'x/y', 'shelf_b/lane_1'):
        assert bad in problem
    path.write_text('[1, 2]')
    assert load_counts(path)[0] == {} and 'not a JSON object' in load_counts(path)[1]
