"""`python -m agentlytics` is the same as the `agentlytics` console script."""

from agentlytics.cli import main

if __name__ == "__main__":  # not when multiprocessing's spawn re-imports this module
    main()
