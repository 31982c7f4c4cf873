"""Staff accounts: argon2 hashes in a private file, no clear passwords, clear refusals."""

import json
import stat

import pytest
from argon2 import PasswordHasher

from ezshop_web.staff_accounts import AccountError, StaffAccounts
from ezshop_web.staff_cli import main as staff_account

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@pytest.fixture
def accounts(tmp_path):
    return StaffAccounts(tmp_path / 'accounts.json', FAST)


def test_a_password_is_stored_only_as_an_argon2_hash_in_a_private_file(accounts):
    accounts.set_password('alice', 'correct horse battery')
    text = accounts.path.read_text()
    assert 'correct horse' not in text
    assert json.loads(text)['alice'].startswith('$argon2id$')
    assert stat.S_IMODE(accounts.path.stat().st_mode) == 0o600


def test_only_the_right_password_of_a_known_account_verifies(accounts):
    accounts.set_password('alice', 'correct horse battery')
    assert accounts.verify('alice', 'correct horse battery')
    assert not accounts.verify('alice', 'correct horse battery ')
    assert not accounts.verify('bob', 'correct horse battery')
    assert not accounts.verify('alice', '')


def test_a_weak_password_or_a_strange_name_is_refused(accounts):
    with pytest.raises(AccountError, match='at least'):
        accounts.set_password('alice', 'short')
    with pytest.raises(AccountError, match='staff name'):
        accounts.set_password('alice; drop table', 'correct horse battery')
    assert accounts.names() == []


def test_a_file_that_is_not_an_accounts_file_is_refused_not_overwritten(accounts):
    accounts.path.write_text('[1, 2]')
    with pytest.raises(AccountError, match='not an accounts file'):
        accounts.verify('alice', 'x' * 12)
    assert accounts.path.read_text() == '[1, 2]'


def test_the_cli_adds_changes_lists_and_removes_accounts(tmp_path, monkeypatch, capsys):
    path = str(tmp_path / 'staff.json')

    def run(*args, password=None):
        if password is not None:
            monkeypatch.setattr('sys.stdin', __import__('io').StringIO(password + '\n'))
        return staff_account([*args, '--accounts-file', path, '--password-stdin'])

    assert run('add', 'alice', password='correct horse battery') == 0
    assert run('add', 'alice', password='another long password') == 2
    assert 'exists' in capsys.readouterr().err
    assert run('passwd', 'alice', password='another long password') == 0
    assert StaffAccounts(path).verify('alice', 'another long password')
    assert run('add', 'bob', password='short') == 2
    assert 'at least' in capsys.readouterr().err
    assert run('list') == 0
    assert capsys.readouterr().out.split() == ['alice']
    assert run('remove', 'alice') == 0
    assert run('remove', 'alice') == 2
    assert StaffAccounts(path).names() == []
