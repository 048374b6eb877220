/** `synthetic:<preset>` models are built by the harness from torch alone; any other model loads with transformers. */
export const SYNTHETIC_PREFIX = "synthetic:";

export const isSynthetic = (model: string): boolean => model.startsWith(SYNTHETIC_PREFIX);

/** The pytorch configs' models that need transformers (Hugging Face ids and local folders). */
export function transformersModels(configs: readonly { backend?: string; model: string }[]): string[] {
  return [...new Set(configs.filter((c) => (c.backend ?? "pytorch") === "pytorch" && !isSynthetic(c.model)).map((c) => c.model))];
}
