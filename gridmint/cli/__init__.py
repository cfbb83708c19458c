"""The command line's commands (`ape run operator|trade|certificates|deploy`): `scripts/<name>.py` is a
one-line `ape run` entry point over `gridmint.cli.<name>.cli`, so the commands' logic is tested
in-process (click's CliRunner inside a pytest session connected to ape's network).

- `errors`: one-line refusals (exit 2) and failures (exit 1), never a traceback;
- `options`: the options every command shares (--account, -v, the order flags) and quiet output;
- `addresses`: addresses as typed (0x…, test:N, an ape account alias);
- `context`: `CliContext`, the one object a command opens: its network, deployment record, contracts,
  sending account and the chain's time;
- `sender`: every transaction simulated for the block it will land in, then sent;
- `tables`: tables that fit the terminal (80-100 columns).

Heavy imports (ape's managers, rich) happen inside the commands, so that `ape run`, which loads every
script in scripts/ to find one, starts quickly.
"""
