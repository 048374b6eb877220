// The example: a small CPU sweep over a synthetic Llama-style model (random weights, no download).
// `npx lem build` measures it for real in a few minutes; edit a value and only that part re-runs.
import { defineLemfile, sweep } from "llenergymeasure";

export default defineLemfile({
  defaults: {
    model: "synthetic:small",
    backend: "pytorch",
    n: 8,
    max_input_tokens: 64,
    max_output_tokens: 32,
    decoder: { temperature: 0 },
    warmup: { n_warmup: 2 },
    baseline: { duration_seconds: 5 },
  },
  experiments: [
    ...sweep("small", { "pytorch.batch_size": [1, 4], precision: ["fp32", "bf16"] }),
  ],
  execution: { cycles: 2, cycle_order: "shuffled", shuffle_seed: 7 },
  runners: { pytorch: "local" },
});
