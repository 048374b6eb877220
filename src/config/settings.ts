// One precedence for every setting lem reads from more than one place, and the place each value
// came from: a flag beats the environment, which beats the lemfile, which beats .lem-config.yaml,
// which beats the default. Commands print the source (lem doctor, lem status --json), and error
// messages name it, so a user can tell which file to edit.

/** Highest precedence first. The one home of this order. */
export const SETTING_LAYERS = ["cli", "env", "lemfile", "user", "default"] as const;
export type SettingLayer = (typeof SETTING_LAYERS)[number];

/** A resolved setting: its value, and where it came from ("--jobs", "env:LEM_PYTHON", ".lem-config.yaml: jobs", "default"). */
export interface Setting<T> { value: T; source: string }

/** What each layer says, if anything: a value (undefined or "" when the layer is silent) and how that layer is named. */
export type SettingInputs<T> = Partial<Record<Exclude<SettingLayer, "default">, Setting<T | undefined>>> & { default: Setting<T> };

const given = (value: unknown): boolean => value !== undefined && value !== "";

/** The value of the highest layer that gives one; the default otherwise. */
export function resolveSetting<T>(inputs: SettingInputs<T>): Setting<T> {
  for (const layer of SETTING_LAYERS) {
    const candidate = inputs[layer];
    if (candidate && given(candidate.value)) return candidate as Setting<T>;
  }
  return inputs.default;
}

/** Like resolveSetting, with no default: undefined where no layer gives a value. */
export function findSetting<T>(inputs: Partial<Record<Exclude<SettingLayer, "default">, Setting<T | undefined>>>): Setting<T> | undefined {
  for (const layer of SETTING_LAYERS) {
    const candidate = inputs[layer as Exclude<SettingLayer, "default">];
    if (candidate && given(candidate.value)) return candidate as Setting<T>;
  }
  return undefined;
}
