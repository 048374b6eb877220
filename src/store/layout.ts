import { basename, dirname, join } from "node:path";
import { hardwareId } from "./hardware-id.js";

/**
 * The one place that knows how a results folder is laid out; the store, `lem import`, `lem clean`
 * and `lem compare` (a folder or git:REF) all name and recognise its files through it.
 *
 * results/<hash>/config.json                            the canonical config and every name it had
 * results/<hash>/<hardware-id>/cycle-<n>.json            one measured cycle (schemas/result.schema.json)
 * results/<hash>/<hardware-id>/cycle-<n>.failed.json     the last failure of that cycle there
 * results/<hash>/cycle-<n>.lock                          held while a build measures that cycle
 * <folder>/.<file>.<pid>.<ms>.tmp                        a write in progress (renamed over <file>)
 * <file>.corrupt-<time>                                  a bad file moved aside, kept for a look
 * results/.lem-write-check.<pid>                         a build's probe that the store is writable
 *
 * <hash> is a config's measurement hash; <hardware-id> is hardwareId() of the measuring hardware.
 */

export { hardwareId } from "./hardware-id.js";

/** The name of a config's folder: its 16-hex-digit measurement hash. */
const HASH_DIR = /^[0-9a-f]{16}$/;
const RESULT_FILE = /^cycle-(\d+)\.json$/;
const FAILURE_FILE = /^cycle-(\d+)\.failed\.json$/;
/** The config file of a hash's folder. */
export const CONFIG_FILE = "config.json";
const CORRUPT = ".corrupt-";
/** Files a store holds that are not results: failures, locks, temp (dot) files, files moved aside, the config. */
const BOOKKEEPING = /^(cycle-\d+\.(failed\.json|lock)|\..*|.*\.corrupt-.*|config\.json)$/;

/** Whether a name is a config's folder name (a measurement hash). */
export const isHashDirName = (name: string): boolean => HASH_DIR.test(name);

export const resultFileName = (cycle: number): string => `cycle-${cycle}.json`;
export const failureFileName = (cycle: number): string => `cycle-${cycle}.failed.json`;
export const lockFileName = (cycle: number): string => `cycle-${cycle}.lock`;

/** The cycle a result file's name holds (cycle-<n>.json), or undefined for any other name. */
export function parseResultFile(name: string): number | undefined {
  const m = RESULT_FILE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The cycle a failure file's name holds (cycle-<n>.failed.json), or undefined for any other name. */
export function parseFailureFile(name: string): number | undefined {
  const m = FAILURE_FILE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** A name lem keeps in a store beside its results (not a result, and not a stranger's file). */
export const isBookkeepingName = (name: string): boolean => BOOKKEEPING.test(name);

/** results/<hash> */
export const hashDir = (root: string, hash: string): string => join(root, hash);
/** results/<hash>/config.json */
export const configPath = (root: string, hash: string): string => join(root, hash, CONFIG_FILE);
/** results/<hash>/<hardware-id> */
export const hardwareDir = (root: string, hash: string, hardware: string): string => join(root, hash, hardwareId(hardware));
/** results/<hash>/<hardware-id>/cycle-<n>.json */
export const resultPath = (root: string, hash: string, hardware: string, cycle: number): string =>
  join(hardwareDir(root, hash, hardware), resultFileName(cycle));
/** results/<hash>/<hardware-id>/cycle-<n>.failed.json */
export const failurePath = (root: string, hash: string, hardware: string, cycle: number): string =>
  join(hardwareDir(root, hash, hardware), failureFileName(cycle));
/** results/<hash>/cycle-<n>.lock */
export const lockPath = (root: string, hash: string, cycle: number): string => join(root, hash, lockFileName(cycle));

/** Where a write of `path` goes before it is renamed over it: a dot file beside it, unique to this process and moment. */
export const tempPath = (path: string): string => join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
/** Where a bad file is moved aside to, stamped with the time. */
export const asidePath = (path: string, now = new Date()): string => `${path}${CORRUPT}${now.toISOString().replace(/[:.]/g, "")}`;
/** The file a build creates and removes in the store's root to learn, before measuring, that it can write there. */
export const writeCheckPath = (root: string): string => join(root, `.lem-write-check.${process.pid}`);
