import { createHash } from "node:crypto";

/** A folder-safe, readable id for a hardware fingerprint ("cpu:AMD EPYC 7B13" → "cpu-amd-epyc-7b13-1a2b3c"). */
export function hardwareId(fingerprint: string): string {
  const slug = fingerprint.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 48);
  return `${slug}-${createHash("sha256").update(fingerprint).digest("hex").slice(0, 6)}`;
}
