"""fastbp's asv benchmarks: training workloads and start-up time."""
