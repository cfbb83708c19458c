"""One-line errors for every command (docs/cli.md "Errors"): a user error or a refusal is one line on
stderr starting `Error:`, exit status 2 and nothing sent (`Refused`); a failure after input was
accepted is one line and exit status 1 (`Failed`); never a traceback unless GRIDMINT_DEBUG=1."""

from __future__ import annotations

import os
from typing import Any

import click


class Refused(click.ClickException):
    """A user error or a call the chain would refuse: one line on stderr, exit status 2, nothing sent."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class Failed(click.ClickException):
    """Something failed after input was accepted (node unreachable, a sent transaction failed): one line, exit 1."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def one_line(text: str) -> str:
    """The first non-empty line of `text` (an exception's message may carry a trace below it)."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else "failed"


class Group(click.Group):
    """A click group whose subcommands fail in one line: usage errors and unit errors exit 2 with
    the message alone (no usage block), ape errors exit 1 with their first line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        return guarded(lambda: super(Group, self).invoke(ctx))


def guarded_command(command: click.Command) -> click.Command:
    """The same one-line errors for a script whose `cli` is a single command (deploy)."""
    invoke = command.invoke

    def _invoke(ctx):
        return guarded(lambda: invoke(ctx))

    command.invoke = _invoke  # type: ignore[method-assign]
    return command


def guarded(call):
    """Runs `call`, turning every exception into `Refused` (exit 2) or `Failed` (exit 1), one line."""
    from ape.exceptions import ApeException, ContractLogicError

    from gridmint.units import UnitError, revert_reason

    try:
        return call()
    except (Refused, Failed, click.exceptions.Exit, click.Abort):
        raise
    except click.UsageError as err:  # BadParameter, MissingParameter, NoSuchOption ...
        raise Refused(one_line(err.format_message())) from None
    except click.ClickException as err:
        raise Refused(one_line(err.format_message())) from None
    except UnitError as err:
        raise Refused(str(err)) from None
    except ContractLogicError as err:
        raise Failed(f"the transaction was refused by the contract: {revert_reason(err.revert_message)}") from None
    except ApeException as err:
        raise Failed(one_line(str(err))) from None
    except ConnectionError as err:
        raise Failed(f"the node did not answer: {one_line(str(err))}") from None
    except Exception as err:  # never a traceback for a user; GRIDMINT_DEBUG=1 shows it
        if os.environ.get("GRIDMINT_DEBUG"):
            raise
        if "Compilation failed" in str(err):
            raise Failed("the contracts do not compile: `. .venv/bin/activate && ape compile` shows the compiler's errors") from None
        raise Failed(f"{type(err).__name__}: {one_line(str(err))} (GRIDMINT_DEBUG=1 shows where)") from None
