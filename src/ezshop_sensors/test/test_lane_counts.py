"""The lane counts file: round trip, a missing file, a damaged one, bad entries (plain)."""

from ezshop_sensors.lane_counts import load_counts, save_counts


def test_counts_survive_a_round_trip_and_a_missing_file_is_no_problem(tmp_path):
    path = tmp_path / 'deep' / 'lane_counts.json'
    assert load_counts(path) == ({}, '')
    save_counts(path, {('shelf_a', 'lane_1'): 4, ('shelf_b', 'lane_2'): 0})
    assert load_counts(path) == ({('shelf_a', 'lane_1'): 4, ('shelf_b', 'lane_2'): 0}, '')
    save_counts(path, {('shelf_a', 'lane_1'): 3})
    assert load_counts(path)[0] == {('shelf_a', 'lane_1'): 3}
    assert [p.name for p in path.parent.iterdir()] == ['lane_counts.json']  # no temp left


def test_a_damaged_file_or_bad_entries_are_said_and_skipped(tmp_path):
    path = tmp_path / 'lane_counts.json'
    path.write_text('{"shelf_a/lane_1": 4, "shelf_a/lane_2": -1, "nolane": 2, "x/y": "3"')
    counts, problem = load_counts(path)
    assert counts == {} and 'unreadable' in problem
    path.write_text('{"shelf_a/lane_1": 4, "shelf_a/lane_2": -1, "nolane": 2, "x/y": "3"}')
    counts, problem = load_counts(path)
    assert counts == {('shelf_a', 'lane_1'): 4}
    assert 'shelf_a/lane_2' in problem and 'nolane' in problem and 'x/y' in problem
    path.write_text('[1, 2]')
    assert load_counts(path)[0] == {} and 'not a JSON object' in load_counts(path)[1]
