"""Staff accounts: names and argon2 password hashes in one JSON file (mode 0600), never a
password in clear and never a default account. Plain Python, no rclpy."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: What a staff account name may be: it appears in audit records and logs.
NAME_PATTERN = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')
MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """An account that cannot be created or changed, with the reason."""


class StaffAccounts:
    """The accounts file at ``path``; read on every check, so a CLI change applies at once."""

    def __init__(self, path: str | Path, hasher: PasswordHasher | None = None):
        self.path = Path(path)
        self._hasher = hasher or PasswordHasher()
        # Verifying an unknown name costs as much as a known one (no timing oracle).
        self._dummy_hash = self._hasher.hash('not a password of anyone')

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise AccountError(f'{self.path} is not an accounts file')
        return {str(k): str(v) for k, v in data.items()}

    def _save(self, accounts: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix='.staff_accounts.')
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, 'w') as out:
                json.dump(accounts, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def names(self) -> list[str]:
        return sorted(self._load())

    def set_password(self, name: str, password: str) -> None:
        """Create the account or change its password."""
        if not NAME_PATTERN.match(name):
            raise AccountError('a staff name is 1-64 letters, digits, "_", "." or "-"')
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f'a password needs at least {MIN_PASSWORD_LENGTH} characters')
        accounts = self._load()
        accounts[name] = self._hasher.hash(password)
        self._save(accounts)

    def remove(self, name: str) -> bool:
        accounts = self._load()
        if accounts.pop(name, None) is None:
            return False
        self._save(accounts)
        return True

    def verify(self, name: str, password: str) -> bool:
        """True when ``password`` is ``name``'s; never raises on a wrong or unknown one."""
        accounts = self._load()
        stored = accounts.get(name)
        try:
            self._hasher.verify(stored or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if stored is None:
            return False
        if self._hasher.check_needs_rehash(stored):
            accounts[name] = self._hasher.hash(password)
            self._save(accounts)
        return True
