"""The sandbox: isolated processes, a fork-server worker pool, and the values that cross it."""
