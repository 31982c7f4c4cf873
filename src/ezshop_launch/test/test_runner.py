"""Process supervision: respawn, on_exit=shutdown, exit codes, output prefixes and log files."""

import io

from ezshop_launch.description import ProcessSpec
from ezshop_launch.runner import Runner


def sh(label, script, **kwargs):
    return ProcessSpec(label=label, cmd=['/bin/sh', '-c', script], output='screen', **kwargs)


def test_output_is_prefixed_and_logged(tmp_path):
    out = io.StringIO()
    code = Runner([sh('a', 'echo one; echo two >&2')], str(tmp_path), out=out).run()
    assert code == 0
    text = out.getvalue()
    assert '[a-1] one' in text and '[a-1] two' in text
    # stdout and stderr are read by two threads: both lines are logged, order may vary.
    assert sorted((tmp_path / 'a-1.log').read_text().split()) == ['one', 'two']


def test_log_output_keeps_stdout_off_screen(tmp_path):
    out = io.StringIO()
    spec = ProcessSpec(label='quiet', cmd=['/bin/sh', '-c', 'echo hidden; echo shown >&2'])
    Runner([spec], str(tmp_path), out=out).run()
    assert 'hidden' not in out.getvalue() and '[quiet-1] shown' in out.getvalue()
    assert 'hidden' in (tmp_path / 'quiet-1.log').read_text()


def test_failure_exit_code_is_reported(tmp_path):
    out = io.StringIO()
    assert Runner([sh('ok', 'exit 0'), sh('bad', 'exit 3')], str(tmp_path), out=out).run() == 3
    assert 'process bad-2' in out.getvalue() and 'died, exit code 3' in out.getvalue()


def test_respawn_restarts_until_shutdown(tmp_path):
    counter = tmp_path / 'count'
    out = io.StringIO()
    specs = [
        sh('flaky', f'echo x >> {counter}; exit 1', respawn=True, respawn_delay=0.1),
        sh('driver', f'while [ $(wc -l < {counter} 2>/dev/null || echo 0) -lt 3 ]; do sleep 0.05; done',
           shutdown_on_exit=True),
    ]
    code = Runner(specs, str(tmp_path), out=out).run()
    assert code == 0, out.getvalue()
    assert len(counter.read_text().split()) >= 3
    assert 'respawning flaky-1' in out.getvalue()


def test_on_exit_shutdown_stops_the_others_and_passes_its_code(tmp_path):
    out = io.StringIO()
    specs = [sh('forever', 'trap "exit 0" INT; while true; do sleep 0.05; done'),
             sh('driver', 'sleep 0.3; exit 4', shutdown_on_exit=True)]
    code = Runner(specs, str(tmp_path), out=out, sigterm_timeout=2.0).run()
    assert code == 4, out.getvalue()
    assert 'driver-2 exited and has on_exit="shutdown"' in out.getvalue()
    assert 'process forever-1' in out.getvalue() and 'stopped' in out.getvalue()
