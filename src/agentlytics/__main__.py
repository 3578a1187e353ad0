"""`python -m agentlytics` is the same as the `agentlytics` console script."""

from agentlytics.cli import main

main()
