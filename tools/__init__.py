"""Programs of the repository that are not `ape run` scripts, run as `python -m tools.<name>`:
`app_serve` (`make app`) and `bench_oracle` (`make bench-oracle`)."""
