"""Code generated from the contracts by `python -m gridmint.codegen`: see `contracts`."""
