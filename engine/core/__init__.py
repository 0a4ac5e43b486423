"""What a network is and how it runs: layer options and specs, layers and kernels, the net,
the trainer and schedules, execution (threads, worker processes), limits, files and errors.
"""
