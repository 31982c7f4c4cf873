"""Receipt accuracy of the whole store graph over the scenario suite and random scenarios.

Each scenario runs launch/sim.launch.xml (real shelf monitor, face node, door nodes, fusion,
store; simulated cameras and lanes; the referee judging every receipt) in a fresh database.
Scenarios come in three kinds, reported separately and together: the shipped suite, normal
random scenarios and hard random ones (groups at the doors, adjacent-lane reaches, lane swaps,
walk-ins, faces turned away). Writes bench/results/<date>.json, a markdown report (<date>.md)
and a PNG plot (<date>.png).

  scripts/run python bench/receipts.py                      # suite + 20 normal + 30 hard
  scripts/run python bench/receipts.py --random 5 --no-suite --difficulty normal
  scripts/run python bench/receipts.py --hard 10 --no-suite --difficulty hard --cpu-hog
  scripts/run python bench/receipts.py --hard 30 --no-suite --difficulty hard --cpu-hog 2
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
import time
from pathlib import Path

import yaml

from ezshop_common.paths import faces_root
from ezshop_common.store_config import default_store_file, load_store
from ezshop_sim.generator import DIFFICULTIES, random_suite
from ezshop_sim.photos import identities_dir, list_identities
from ezshop_sim.referee import percentile
from ezshop_sim.scenario import load_scenario, scenario_names, scenario_to_dict
from ezshop_testing.env import claim_domain_for_this_process
from ezshop_testing.workdirs import add_keep_databases_option, bench_workdir

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'bench' / 'results'
#: Where a scenario comes from; each kind is reported on its own and all together.
SUITE = 'suite'
KINDS = (SUITE, *DIFFICULTIES)
OVERALL = 'overall'
TARGET_RIGHT = 0.99
TARGET_MISSING_RECEIPTS = 0
TARGET_WRONG_PERSON_CART = 0
TARGET_EXIT_P99_S = 2.0
#: Counts the referee reports per scenario, summed per kind (older reports lack some: 0).
COUNTS = ('wrong_person_units', 'wrong_person_units_cart', 'phantom_units',
          'unattributed_actions', 'ambiguous_actions', 'missed_door_passes', 'late_entries',
          'absent_checkouts', 'held_actions', 'late_resolved_actions')
#: Latencies the referee samples (samples_s), reported as p50 / p99 per kind.
LATENCIES = ('shelf_event_to_cart_action', 'exit_to_receipt', 'truth_exit_to_receipt')
#: A process that keeps one core busy beside the runs (--cpu-hog [N]: N of them), at the
#: bench's own priority (nice 0 when the bench runs at 0).
CPU_HOG = [sys.executable, '-c', 'while True: pass']
#: A launch that ends this soon without a verdict died while starting (a scenario plays for
#: tens of seconds); it is run once more, and the report says so.
SETUP_CRASH_S = 30.0


def run_scenario(scenario: str, faces_dir: str, faces_subdir: str, work: Path,
                 timeout_s: float, record: Path | None = None) -> dict:
    """One scenario through the whole graph; the referee's report plus wall and CPU time.
    With ``record``, its topics (no images) go into the MCAP bag ``record/<scenario>``."""
    name = Path(scenario).stem
    results = work / f'{name}.json'
    cmd = ['ros2', 'launch', 'ezshop_bringup', 'sim.launch.xml', f'scenario:={scenario}',
           f'database_url:=sqlite:///{work / name}.db', f'results_file:={results}',
           f'faces_dir:={faces_dir}', f'faces_subdir:={faces_subdir}',
           f'timeout_s:={timeout_s:.1f}']
    if record is not None:
        cmd += ['record:=true', f'bag:={record / name}', 'image_rate:=0.0']
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

    def latency(key):
        samples = [x for r in reports for x in r.get('samples_s', {}).get(key, [])]
        return {'p50': percentile(samples, 50), 'p99': percentile(samples, 99),
                'count': len(samples)}

    tp, fp, fn = total('true_positive_units'), total('false_positive_units'), \
        total('false_negative_units')
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    cameras: dict[str, dict] = {}
    for r in reports:
        for cam, stats in r.get('cameras', {}).items():
            entry = cameras.setdefault(cam, {'fps': [], 'frames_skipped': 0,
                                             'frames_received': 0})
            entry['fps'].append(stats['fps'])
            entry['frames_skipped'] += stats['frames_skipped']
            entry['frames_received'] += stats['frames_received']
    expected, right = total('receipts_expected'), total('receipts_right')
    missing = [f"{r['scenario']}: {name}" for r in reports
               for name in r.get('missing_receipts', [])]
    # Receipts of enrolled shoppers who left (reports before 2026-12-07 list only those).
    wrong = [s for r in reports for s in r.get('shoppers', [])
             if s['enrolled'] and s.get('exited', True) and not s['right']
             and s['shopper'] not in r.get('missing_receipts', [])]
    return {
        'scenarios': len(reports),
        'scenarios_all_right': sum(1 for r in reports if r.get('all_right')),
        'scenarios_unfinished': [r['scenario'] for r in reports if not r.get('finished')],
        'scenarios_rerun_after_start_crash': [r['scenario'] for r in reports
                                              if 'rerun_after_start_crash' in r],
        'receipts_expected': expected,
        'receipts_right': right,
        'receipts_right_fraction': right / expected if expected else 1.0,
        'missing_receipts': len(missing),
        'missing_receipt_details': missing,
        # A wrong receipt that only lacks units (they are held for staff) is one the review
        # queue completes; one charging a unit the shopper did not carry out is not.
        'wrong_receipts_short': sum(1 for s in wrong if _short(s)),
        'wrong_receipts_over': sum(1 for s in wrong if not _short(s)),
        'item_precision': precision,
        'item_recall': recall,
        'item_f1': 2 * precision * recall / (precision + recall) if precision + recall else 0,
        **{key: total(key) for key in COUNTS},
        'worst_error_cents': max((r.get('worst_error_cents', 0) for r in reports), default=0),
        **{f'{key}_s': latency(key) for key in LATENCIES},
        'cameras': {cam: {'mean_fps': sum(e['fps']) / len(e['fps']),
                          'frames_received': e['frames_received'],
                          'frames_skipped': e['frames_skipped']}
                    for cam, e in sorted(cameras.items())},
        'cpu_percent_of_machine_mean': sum(r['cpu_percent_of_machine'] for r in reports)
        / max(len(reports), 1),
    }


def _short(shopper: dict) -> bool:
    """Whether a shopper's receipt charged nothing they did not carry out (only lacks units)."""
    return all(q <= shopper['expected'].get(item, 0) for item, q in shopper['charged'].items())


def summaries(reports: list[dict]) -> dict[str, dict]:
    """The aggregate of every kind of scenario that ran, and of all of them."""
    out = {kind: aggregate([r for r in reports if r.get('kind') == kind]) for kind in KINDS
           if any(r.get('kind') == kind for r in reports)}
    out[OVERALL] = aggregate(reports)
    return out


def targets_met(summary: dict) -> bool:
    return (summary['receipts_right_fraction'] >= TARGET_RIGHT
            and summary['missing_receipts'] <= TARGET_MISSING_RECEIPTS
            and summary['wrong_person_units'] == 0
            and summary['wrong_person_units_cart'] <= TARGET_WRONG_PERSON_CART
            and (summary['exit_to_receipt_s']['p99'] or 0) < TARGET_EXIT_P99_S)


def _ms(x):
    return 'n/a' if x is None else f'{x * 1000:.0f} ms'


#: Rows of the metrics table: label, how to show a summary, target.
METRICS = [
    ('receipts exactly right', lambda s: f"{s['receipts_right']}/{s['receipts_expected']} "
     f"({100 * s['receipts_right_fraction']:.1f}%)", '>= 99%'),
    ('missing receipts', lambda s: str(s['missing_receipts']), '0'),
    ('wrong receipts: short (units held) / overcharged',
     lambda s: f"{s.get('wrong_receipts_short', 0)} / {s.get('wrong_receipts_over', 0)}", ''),
    ('wrong-person units, receipts', lambda s: str(s['wrong_person_units']), '0'),
    ('wrong-person units, carts', lambda s: str(s['wrong_person_units_cart']), '0'),
    ('phantom charges (units)', lambda s: str(s['phantom_units']), ''),
    ('item precision / recall / F1', lambda s: f"{s['item_precision']:.3f} / "
     f"{s['item_recall']:.3f} / {s['item_f1']:.3f}", ''),
    ('worst receipt error', lambda s: f"{s['worst_error_cents']} cents", ''),
    ('missed door passes', lambda s: str(s['missed_door_passes']), ''),
    ('late entries', lambda s: str(s['late_entries']), ''),
    ('absent checkouts', lambda s: str(s['absent_checkouts']), ''),
    ('unattributed / ambiguous actions', lambda s: f"{s['unattributed_actions']} / "
     f"{s['ambiguous_actions']}", ''),
    ('held / late-resolved actions', lambda s: f"{s['held_actions']} / "
     f"{s['late_resolved_actions']}", ''),
    ('shelf event -> cart action p50 / p99', lambda s: _latency(s, 'shelf_event_to_cart_action'),
     ''),
    ('exit (door) -> receipt p50 / p99', lambda s: _latency(s, 'exit_to_receipt'),
     'p99 < 2 s'),
    ('exit (truth) -> receipt p50 / p99', lambda s: _latency(s, 'truth_exit_to_receipt'), ''),
    ('CPU (mean, % of the machine)', lambda s: f"{s['cpu_percent_of_machine_mean']:.0f}%", ''),
]


def _latency(summary: dict, key: str) -> str:
    stats = summary[f'{key}_s']
    return f"{_ms(stats['p50'])} / {_ms(stats['p99'])}"


def _verdict(report: dict) -> str:
    if not report.get('finished'):
        return 'UNFINISHED'
    return 'OK' if report.get('all_right') else 'WRONG'


def markdown(by_kind: dict[str, dict], reports: list[dict], meta: dict) -> str:
    kinds = [k for k in by_kind if k != OVERALL] + [OVERALL]
    counts = ', '.join(f'{by_kind[k]["scenarios"]} {k}' for k in kinds if k != OVERALL)
    hogs = meta['cpu_hog']
    hog = (', one core kept busy by a CPU hog' if hogs == 1 else
           f', {hogs} CPU hogs each keeping a core busy' if hogs else '')
    lines = [
        f"# Receipt accuracy ({meta['date']})", '',
        f"{by_kind[OVERALL]['scenarios']} scenarios ({counts}; random seed {meta['seed']}), "
        f"faces from `{meta['faces']}`, {os.cpu_count()} cores{hog}.", '',
        '| metric | ' + ' | '.join(kinds) + ' | target |',
        '|---' * (len(kinds) + 2) + '|']
    for label, show, target in METRICS:
        lines.append(f'| {label} | ' + ' | '.join(show(by_kind[k]) for k in kinds)
                     + f' | {target} |')
    lines.append('| targets met | ' + ' | '.join(
        'yes' if targets_met(by_kind[k]) else 'NO' for k in kinds) + ' | |')
    missing = by_kind[OVERALL]['missing_receipt_details']
    if missing:
        lines += ['', 'Missing receipts: ' + '; '.join(missing) + '.']
    for key, what in (('scenarios_unfinished', 'Scenarios without a verdict'),
                      ('scenarios_rerun_after_start_crash', 'Run again after a crash while '
                       'starting')):
        if by_kind[OVERALL][key]:
            lines += ['', f'{what}: ' + ', '.join(by_kind[OVERALL][key]) + '.']
    lines += ['', '| camera | mean processed fps | frames received | frames skipped |',
              '|---|---|---|---|']
    for cam, c in by_kind[OVERALL]['cameras'].items():
        lines.append(f"| {cam} | {c['mean_fps']:.1f} | {c['frames_received']} | "
                     f"{c['frames_skipped']} |")
    lines += ['', '| scenario | kind | shoppers | receipts right | missing | wrong-person '
              '(receipts / carts) | missed doors | unattributed | verdict |',
              '|---|---|---|---|---|---|---|---|---|']
    for r in reports:
        lines.append(f"| {r['scenario']} | {r.get('kind', '')} | {len(r.get('shoppers', []))} "
                     f"| {r['receipts_right']}/{r['receipts_expected']} | "
                     f"{len(r.get('missing_receipts', []))} | "
                     f"{r.get('wrong_person_units', '-')} / "
                     f"{r.get('wrong_person_units_cart', '-')} | "
                     f"{r.get('missed_door_passes', '-')} | "
                     f"{r.get('unattributed_actions', '-')} | {_verdict(r)} |")
    lines += ['', 'Reproduce: `' + meta['command'] + '`', '']
    return '\n'.join(lines)


def plot(reports: list[dict], path: Path) -> None:
    """Per kind of scenario and overall: receipts right and exit -> receipt p99 by crowding."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    panels = [(k, [r for r in reports if r.get('kind') == k]) for k in KINDS]
    panels = [(k, rs) for k, rs in panels if rs] + [(OVERALL, reports)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4), squeeze=False)
    handles = []
    for left, (kind, chosen) in zip(axes[0], panels, strict=True):
        by_size: dict[int, list[dict]] = {}
        for r in chosen:
            by_size.setdefault(len(r.get('shoppers', [])), []).append(r)
        sizes = sorted(by_size)
        right = [100 * sum(r['receipts_right'] for r in by_size[n])
                 / max(sum(r['receipts_expected'] for r in by_size[n]), 1) for n in sizes]
        exit_p99 = [percentile([x for r in by_size[n] for x in r.get('samples_s', {}).get(
            'exit_to_receipt', [])], 99) or 0.0 for n in sizes]
        bars = left.bar([n - 0.2 for n in sizes], right, width=0.4, color='tab:green',
                        label='receipts exactly right (%)')
        left.set_title(f'{kind} ({len(chosen)} scenarios)')
        left.set_xlabel('shoppers in the scenario')
        left.set_ylabel('receipts exactly right (%)')
        left.set_ylim(0, 105)
        left.set_xticks(sizes)
        axis = left.twinx()
        latency = axis.bar([n + 0.2 for n in sizes], exit_p99, width=0.4, color='tab:blue',
                           label='exit -> receipt p99 (s)')
        axis.axhline(TARGET_EXIT_P99_S, color='tab:blue', linestyle=':', linewidth=1)
        axis.set_ylabel('exit -> receipt p99 (s)')
        handles = handles or [bars, latency]
    fig.legend(handles=handles, loc='upper right', ncol=2)
    fig.suptitle('EZShop receipts by kind of scenario and crowding', x=0.02, ha='left')
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def scenarios_to_run(args, store, identities: list[str], work: Path) -> list[tuple[str, str]]:
    """(kind, shipped name or YAML path) of every scenario to run, in order."""
    difficulties = [d.strip() for d in args.difficulty.split(',') if d.strip()]
    unknown = sorted(set(difficulties) - set(DIFFICULTIES))
    if unknown:
        raise SystemExit(f'receipts.py: unknown difficulty {", ".join(unknown)} '
                         f'(choose from {", ".join(DIFFICULTIES)})')
    chosen: list[tuple[str, str]] = []
    if not args.no_suite:
        names = args.scenarios.split(',') if args.scenarios else scenario_names()
        chosen += [(SUITE, name) for name in names]
    counts = {'normal': args.random, 'hard': args.hard}
    for difficulty in DIFFICULTIES:
        if difficulty not in difficulties or counts[difficulty] <= 0:
            continue
        suite = random_suite(counts[difficulty], args.seed, store, identities,
                             max_shoppers=args.max_shoppers if difficulty == 'normal' else None,
                             difficulty=difficulty)
        for scenario in suite:
            path = work / f'{scenario.name}.yaml'
            path.write_text(yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False))
            load_scenario(path)  # what we wrote must load
            chosen.append((difficulty, str(path)))
    if args.only:
        wanted = {name.strip() for name in args.only.split(',') if name.strip()}
        chosen = [(kind, s) for kind, s in chosen if Path(s).stem in wanted]
        if not chosen:
            raise SystemExit(f'receipts.py: none of {sorted(wanted)} is in the chosen set')
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--difficulty', default=','.join(DIFFICULTIES),
                        help='random scenarios of these difficulties, comma separated '
                        '(default normal,hard)')
    parser.add_argument('--random', type=int, default=20,
                        help='normal random scenarios (default 20)')
    parser.add_argument('--hard', type=int, default=30, help='hard random scenarios '
                        '(default 30)')
    parser.add_argument('--seed', type=int, default=2026, help='seed of the random suites')
    parser.add_argument('--max-shoppers', type=int, default=4,
                        help='most shoppers in a normal random scenario (hard: up to 8)')
    parser.add_argument('--no-suite', action='store_true',
                        help='only random scenarios (e.g. for your own photos)')
    parser.add_argument('--scenarios', default='', help='comma-separated shipped scenarios '
                        '(default: all)')
    parser.add_argument('--only', default='', help='comma-separated scenario names to run out '
                        'of the chosen set (e.g. one failing hard_s651673_n8 of the same seed)')
    parser.add_argument('--faces-dir', default='',
                        help='faces folder (default $EZSHOP_FACES, else the shipped photos)')
    parser.add_argument('--faces-subdir', default='dev')
    parser.add_argument('--timeout', type=float, default=300.0, help='per scenario (s)')
    parser.add_argument('--cpu-hog', type=int, nargs='?', const=1, default=0, metavar='N',
                        help='keep one core (N cores) busy with a Python busy loop each beside '
                        'the runs, to measure receipts on a loaded machine')
    parser.add_argument('--record', default='',
                        help='also record each scenario (every topic but images) into an MCAP '
                        'bag in this folder, for bench/fusion_replay.py')
    parser.add_argument('--out', default=str(RESULTS))
    add_keep_databases_option(parser)
    args = parser.parse_args(argv)
    if args.cpu_hog < 0:
        parser.error(f'--cpu-hog takes a number of busy loops >= 0, got {args.cpu_hog}')
    record = Path(args.record).resolve() if args.record else None
    if record is not None:
        record.mkdir(parents=True, exist_ok=True)

    faces_dir = args.faces_dir or str(faces_root())
    identities = list_identities(identities_dir(faces_dir, args.faces_subdir or None))
    store = load_store(default_store_file())
    work = bench_workdir('ezshop-bench-', args.keep_databases)
    scenarios = scenarios_to_run(args, store, identities, work)

    domain_id = claim_domain_for_this_process()
    print(f'{len(scenarios)} scenarios; logs and databases in {work}; '
          f'ROS_DOMAIN_ID={domain_id}', flush=True)
    hogs = [subprocess.Popen(CPU_HOG, start_new_session=True) for _ in range(args.cpu_hog)]
    hog_nice = os.getpriority(os.PRIO_PROCESS, hogs[0].pid) if hogs else None
    reports = []
    try:
        for i, (kind, scenario) in enumerate(scenarios, 1):
            report = run_scenario(scenario, faces_dir, args.faces_subdir, work, args.timeout,
                                  record)
            if not report.get('finished') and report['wall_s'] < SETUP_CRASH_S:
                # The harness (or a node) died while starting, before the scenario played:
                # run it once more rather than drop it from the totals; the report says so.
                print(f"    {report['scenario']}: the launch ended with code "
                      f"{report['exit_code']} after {report['wall_s']:.1f} s while starting; "
                      'running it again', flush=True)
                crashed = report['exit_code']
                report = run_scenario(scenario, faces_dir, args.faces_subdir, work,
                                      args.timeout, record)
                report['rerun_after_start_crash'] = crashed
            report['kind'] = kind
            reports.append(report)
            print(f"[{i:2d}/{len(scenarios)}] {kind:<6} {report['scenario']:<36} "
                  f"{report['receipts_right']}/{report['receipts_expected']} receipts right  "
                  f"{_verdict(report):<10} {report['wall_s']:5.1f} s  "
                  f"CPU {report['cpu_percent_of_machine']:.0f}%", flush=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()

    by_kind = summaries(reports)
    date = datetime.datetime.now().strftime('%Y-%m-%d')
    meta = {'date': date, 'seed': args.seed,
            **{kind: sum(1 for k, _ in scenarios if k == kind) for kind in KINDS},
            'difficulties': args.difficulty, 'faces': faces_dir, 'cpu_hog': args.cpu_hog,
            'cpu_hog_command': ' '.join(CPU_HOG[1:]) if args.cpu_hog else '',
            'cpu_hog_nice': hog_nice,
            'cores': os.cpu_count(),
            'command': 'scripts/run python bench/receipts.py ' + ' '.join(
                sys.argv[1:] if argv is None else argv)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f'{date}.json').write_text(json.dumps(
        {'meta': meta, 'summary': by_kind, 'scenarios': reports}, indent=2))
    text = markdown(by_kind, reports, meta)
    (out / f'{date}.md').write_text(text)
    plot(reports, out / f'{date}.png')
    print('\n' + text)
    ok = targets_met(by_kind[OVERALL])
    print(f"targets {'met' if ok else 'NOT met'}; results in {out}/{date}.*")
    return 0


if __name__ == '__main__':
    sys.exit(main())
