"""`ros2 run ezshop_web staff_account add|passwd|remove|list [name]`: manage the console's staff
accounts (argon2 hashes in the accounts file web_node reads). There is no default account: the
first one is made here, on the store PC."""

from __future__ import annotations

import argparse
import getpass
import sys

from ezshop_web.staff_accounts import AccountError, StaffAccounts
from ezshop_web.web_settings import WebSettings, accounts_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='staff_account', description=__doc__)
    parser.add_argument('command', choices=('add', 'passwd', 'remove', 'list'))
    parser.add_argument('name', nargs='?', default='')
    parser.add_argument('--accounts-file', default='',
                        help="accounts file (web_node's accounts_file; default "
                             '$EZSHOP_STAFF_ACCOUNTS or ~/.local/share/ezshop/'
                             'staff_accounts.json)')
    parser.add_argument('--password-stdin', action='store_true',
                        help='read the password from the first line of stdin (scripts)')
    return parser


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip('\n')
    first = getpass.getpass('Password: ')
    if first != getpass.getpass('Again: '):
        raise AccountError('the two passwords differ')
    return first


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    accounts = StaffAccounts(accounts_path(WebSettings(accounts_file=args.accounts_file)))
    try:
        if args.command == 'list':
            print('\n'.join(accounts.names()) or f'no accounts in {accounts.path}')
            return 0
        if not args.name:
            raise AccountError(f'{args.command} needs a staff name')
        if args.command == 'remove':
            if not accounts.remove(args.name):
                raise AccountError(f'no account {args.name!r} in {accounts.path}')
            print(f'removed {args.name}')
            return 0
        exists = args.name in accounts.names()
        if args.command == 'add' and exists:
            raise AccountError(f'{args.name!r} exists: use passwd to change its password')
        if args.command == 'passwd' and not exists:
            raise AccountError(f'no account {args.name!r}: use add')
        accounts.set_password(args.name, read_password(args.password_stdin))
        print(f'{"added" if args.command == "add" else "changed the password of"} '
              f'{args.name} in {accounts.path}')
        return 0
    except AccountError as exc:
        print(f'staff_account: {exc}', file=sys.stderr)
        return 2


def console_main() -> None:
    sys.exit(main())
