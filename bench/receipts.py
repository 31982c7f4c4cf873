"""Receipt accuracy of the whole store graph over the scenario suite and random scenarios.

Each scenario runs launch/sim.launch.xml (real shelf monitor, face node, door nodes, fusion,
store; simulated cameras and lanes; the referee judging every receipt) in a fresh database.
Writes bench/results/<date>.json, a markdown report (<date>.md) and a PNG plot (<date>.png).

  scripts/run python bench/receipts.py                      # suite + 20 random scenarios
  scripts/run python bench/receipts.py --random 5 --no-suite
  scripts/run python bench/receipts.py --faces-dir ~/photos --faces-subdir '' --no-suite
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ezshop_common.paths import faces_root
from ezshop_common.store_config import default_store_file, load_store
from ezshop_sim.generator import random_suite
from ezshop_sim.photos import identities_dir, list_identities
from ezshop_sim.referee import percentile
from ezshop_sim.scenario import load_scenario, scenario_names, scenario_to_dict

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'bench' / 'results'
TARGET_RIGHT = 0.99
TARGET_EXIT_P99_S = 2.0


def run_scenario(scenario: str, faces_dir: str, faces_subdir: str, work: Path,
                 timeout_s: float) -> dict:
    """One scenario through the whole graph; the referee's report plus wall and CPU time."""
    name = Path(scenario).stem
    results = work / f'{name}.json'
    cmd = [sys.executable, '-m', 'ezshop_launch', str(ROOT / 'launch' / 'sim.launch.xml'),
           f'scenario:={scenario}', f'database_url:=sqlite:///{work / name}.db',
           f'results_file:={results}', f'faces_dir:={faces_dir}',
           f'faces_subdir:={faces_subdir}', f'timeout_s:={timeout_s:.1f}']
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with open(work / f'{name}.log', 'w') as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout_s + 120)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            # Ctrl-C to the launch (its own process group) stops every node cleanly.
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=30)
            raise
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads(results.read_text()) if results.exists() else {
        'finished': False, 'all_right': False, 'receipts_expected': 0, 'receipts_right': 0}
    report.update(scenario=name, exit_code=proc.returncode, wall_s=wall, cpu_s=cpu,
                  cpu_percent_of_machine=100.0 * cpu / wall / (os.cpu_count() or 1))
    return report


def aggregate(reports: list[dict]) -> dict:
    def total(key):
        return sum(r.get(key, 0) for r in reports)

    tp, fp, fn = total('true_positive_units'), total('false_positive_units'), \
        total('false_negative_units')
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    picks = [x for r in reports for x in r.get('samples_s', {}).get(
        'shelf_event_to_cart_action', [])]
    exits = [x for r in reports for x in r.get('samples_s', {}).get('exit_to_receipt', [])]
    cameras: dict[str, dict] = {}
    for r in reports:
        for cam, stats in r.get('cameras', {}).items():
            entry = cameras.setdefault(cam, {'fps': [], 'frames_skipped': 0,
                                             'frames_received': 0})
            entry['fps'].append(stats['fps'])
            entry['frames_skipped'] += stats['frames_skipped']
            entry['frames_received'] += stats['frames_received']
    expected, right = total('receipts_expected'), total('receipts_right')
    return {
        'scenarios': len(reports),
        'scenarios_all_right': sum(1 for r in reports if r.get('all_right')),
        'scenarios_unfinished': [r['scenario'] for r in reports if not r.get('finished')],
        'receipts_expected': expected,
        'receipts_right': right,
        'receipts_right_fraction': right / expected if expected else 1.0,
        'item_precision': precision,
        'item_recall': recall,
        'item_f1': 2 * precision * recall / (precision + recall) if precision + recall else 0,
        'wrong_person_units': total('wrong_person_units'),
        'phantom_units': total('phantom_units'),
        'worst_error_cents': max((r.get('worst_error_cents', 0) for r in reports), default=0),
        'unattributed_actions': total('unattributed_actions'),
        'ambiguous_actions': total('ambiguous_actions'),
        'shelf_event_to_cart_action_s': {'p50': percentile(picks, 50),
                                         'p99': percentile(picks, 99), 'count': len(picks)},
        'exit_to_receipt_s': {'p50': percentile(exits, 50), 'p99': percentile(exits, 99),
                              'count': len(exits)},
        'cameras': {cam: {'mean_fps': sum(e['fps']) / len(e['fps']),
                          'frames_received': e['frames_received'],
                          'frames_skipped': e['frames_skipped']}
                    for cam, e in sorted(cameras.items())},
        'cpu_percent_of_machine_mean': sum(r['cpu_percent_of_machine'] for r in reports)
        / max(len(reports), 1),
    }


def markdown(summary: dict, reports: list[dict], meta: dict) -> str:
    def ms(x):
        return 'n/a' if x is None else f'{x * 1000:.0f} ms'

    lines = [
        f"# Receipt accuracy ({meta['date']})", '',
        f"{summary['scenarios']} scenarios ({meta['suite']} from the suite, {meta['random']} "
        f"random, seed {meta['seed']}), faces from `{meta['faces']}`, {os.cpu_count()} cores.",
        '', '| metric | value | target |', '|---|---|---|',
        f"| receipts exactly right | {summary['receipts_right']}/{summary['receipts_expected']}"
        f" ({100 * summary['receipts_right_fraction']:.1f}%) | >= 99% |",
        f"| item precision / recall / F1 | {summary['item_precision']:.3f} / "
        f"{summary['item_recall']:.3f} / {summary['item_f1']:.3f} | |",
        f"| wrong-person charges (units) | {summary['wrong_person_units']} | 0 |",
        f"| phantom charges (units) | {summary['phantom_units']} | |",
        f"| worst receipt error | {summary['worst_error_cents']} cents | |",
        f"| unattributed / ambiguous actions | {summary['unattributed_actions']} / "
        f"{summary['ambiguous_actions']} | |",
        f"| shelf event -> cart action p50 / p99 | "
        f"{ms(summary['shelf_event_to_cart_action_s']['p50'])} / "
        f"{ms(summary['shelf_event_to_cart_action_s']['p99'])} | |",
        f"| exit -> receipt p50 / p99 | {ms(summary['exit_to_receipt_s']['p50'])} / "
        f"{ms(summary['exit_to_receipt_s']['p99'])} | p99 < 2 s |",
        f"| CPU (mean, % of the machine) | {summary['cpu_percent_of_machine_mean']:.0f}% | |",
        '', '| camera | mean processed fps | frames received | frames skipped |',
        '|---|---|---|---|']
    for cam, c in summary['cameras'].items():
        lines.append(f"| {cam} | {c['mean_fps']:.1f} | {c['frames_received']} | "
                     f"{c['frames_skipped']} |")
    lines += ['', '| scenario | shoppers | receipts right | wrong-person | unattributed | '
              'verdict |', '|---|---|---|---|---|---|']
    for r in reports:
        verdict = 'OK' if r.get('all_right') and r.get('finished') else (
            'WRONG' if r.get('finished') else 'UNFINISHED')
        lines.append(f"| {r['scenario']} | {len(r.get('shoppers', []))} | "
                     f"{r['receipts_right']}/{r['receipts_expected']} | "
                     f"{r.get('wrong_person_units', '-')} | {r.get('unattributed_actions', '-')}"
                     f" | {verdict} |")
    lines += ['', 'Reproduce: `' + meta['command'] + '`', '']
    return '\n'.join(lines)


def plot(reports: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    by_size: dict[int, list[dict]] = {}
    for r in reports:
        by_size.setdefault(len(r.get('shoppers', [])), []).append(r)
    sizes = sorted(by_size)
    right = [100 * sum(r['receipts_right'] for r in by_size[n])
             / max(sum(r['receipts_expected'] for r in by_size[n]), 1) for n in sizes]
    exit_p99 = [percentile([x for r in by_size[n] for x in r.get('samples_s', {}).get(
        'exit_to_receipt', [])], 99) or 0.0 for n in sizes]
    fig, left = plt.subplots(figsize=(7, 4))
    left.bar([n - 0.2 for n in sizes], right, width=0.4, label='receipts exactly right (%)',
             color='tab:green')
    left.set_xlabel('shoppers in the scenario')
    left.set_ylabel('receipts exactly right (%)')
    left.set_ylim(0, 105)
    left.set_xticks(sizes)
    axis = left.twinx()
    axis.bar([n + 0.2 for n in sizes], exit_p99, width=0.4, label='exit -> receipt p99 (s)',
             color='tab:blue')
    axis.set_ylabel('exit -> receipt p99 (s)')
    fig.legend(loc='lower left')
    fig.suptitle('EZShop receipts by crowding')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--random', type=int, default=20, help='random scenarios (default 20)')
    parser.add_argument('--seed', type=int, default=2026, help='seed of the random suite')
    parser.add_argument('--max-shoppers', type=int, default=4)
    parser.add_argument('--no-suite', action='store_true',
                        help='only random scenarios (e.g. for your own photos)')
    parser.add_argument('--scenarios', default='', help='comma-separated shipped scenarios '
                        '(default: all)')
    parser.add_argument('--faces-dir', default='', help='faces folder (default $EZSHOP_FACES)')
    parser.add_argument('--faces-subdir', default='dev')
    parser.add_argument('--timeout', type=float, default=300.0, help='per scenario (s)')
    parser.add_argument('--out', default=str(RESULTS))
    args = parser.parse_args(argv)

    faces_dir = args.faces_dir or str(faces_root())
    identities = list_identities(identities_dir(faces_dir, args.faces_subdir or None))
    store = load_store(default_store_file())
    work = Path(tempfile.mkdtemp(prefix='ezshop-bench-'))
    scenarios = []
    if not args.no_suite:
        scenarios += args.scenarios.split(',') if args.scenarios else scenario_names()
    for scenario in random_suite(args.random, args.seed, store, identities,
                                 max_shoppers=args.max_shoppers):
        path = work / f'{scenario.name}.yaml'
        path.write_text(yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False))
        load_scenario(path)  # what we wrote must load
        scenarios.append(str(path))

    print(f'{len(scenarios)} scenarios; logs and databases in {work}', flush=True)
    reports = []
    for i, scenario in enumerate(scenarios, 1):
        report = run_scenario(scenario, faces_dir, args.faces_subdir, work, args.timeout)
        reports.append(report)
        verdict = 'OK' if report.get('all_right') and report.get('finished') else (
            'WRONG' if report.get('finished') else 'UNFINISHED')
        print(f"[{i:2d}/{len(scenarios)}] {report['scenario']:<36} "
              f"{report['receipts_right']}/{report['receipts_expected']} receipts right  "
              f"{verdict:<10} {report['wall_s']:5.1f} s  "
              f"CPU {report['cpu_percent_of_machine']:.0f}%", flush=True)

    summary = aggregate(reports)
    date = datetime.datetime.now().strftime('%Y-%m-%d')
    meta = {'date': date, 'seed': args.seed, 'suite': len(scenarios) - args.random,
            'random': args.random, 'faces': faces_dir,
            'command': 'scripts/run python bench/receipts.py ' + ' '.join(argv or sys.argv[1:])}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f'{date}.json').write_text(json.dumps(
        {'meta': meta, 'summary': summary, 'scenarios': reports}, indent=2))
    text = markdown(summary, reports, meta)
    (out / f'{date}.md').write_text(text)
    plot(reports, out / f'{date}.png')
    print('\n' + text)
    ok = summary['receipts_right_fraction'] >= TARGET_RIGHT and \
        summary['wrong_person_units'] == 0 and \
        (summary['exit_to_receipt_s']['p99'] or 0) < TARGET_EXIT_P99_S
    print(f"targets {'met' if ok else 'NOT met'}; results in {out}/{date}.*")
    return 0


if __name__ == '__main__':
    sys.exit(main())
