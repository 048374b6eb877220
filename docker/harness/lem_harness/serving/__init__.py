"""Serving measurements (issue 20): the energy of an inference server under an open-loop request load.

    arrivals      when each request is sent (vLLM's `get_request` law: gamma gaps rescaled to N/rate)
    sse           parse OpenAI-style /v1/completions event streams (transformers serve, vLLM)
    metrics       per-request TTFT / ITL / TPOT / E2EL and the run's aggregates (throughput, goodput, ...)
    steady_state  ML.ENERGY's steady-state window and its J/token
    client        an open-loop client (its own HTTP/1.1, thread and event loop) timing every request
    server        start and stop a `transformers serve --continuous-batching` process
    vllm_server   the same for `vllm serve` (untested on a GPU), and its /metrics running-requests gauge
    model_cache   the model the server loads; synthetic:<preset> saved once as a folder in lem's cache
    registry      servers shared by the nodes of one server key (LEM_SERVER_DIR), started once
    watchdog      a shared server's watchdog process: stops it when lem is gone or its entry is removed
    process_group processes and process groups that are no children of this process (alive, stop)
    run           scenario serving end to end (experiment.run_experiment calls run_serving)
"""
