"""The local stack's own smoke workflow: exercises every ASL construct the project relies on."""
