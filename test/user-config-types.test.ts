// The UserConfig type (src/config/user-config.ts) and schemas/user-config.schema.json describe the
// same settings: the same keys at every depth, optional in the type exactly where the schema fills
// in no default, and the same kind of value. USER_CONFIG_SHAPE (test/helpers/user-config-shape.ts) is
// tied to the type by the compiler (Shape<UserConfig>: a key the type gains or loses, or a changed
// kind, no longer compiles; this test compiles it) and to the schema by the comparison here.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import ts from "typescript";
import { schemas, validators } from "../src/config/schemas.js";
import { USER_CONFIG_SHAPE } from "./helpers/user-config-shape.js";

type Json = Record<string, unknown>;

/** A property's value kind as the schema gives it ($ref followed, integer as number, enums by their values' type). */
function kindOf(schema: Json, root: Json, where: string): string {
  const types: string[] = schema.type === undefined
    ? Array.isArray(schema.enum) ? [...new Set(schema.enum.map((v) => (v === null ? "null" : typeof v)))] : []
    : ([] as string[]).concat(schema.type as string | string[]);
  assert.ok(types.length > 0, `${where}: the schema gives no type or enum`);
  const names = types.map((t) => {
    if (t === "integer") return "number";
    if (t !== "array") return t;
    const items = resolve(schema.items as Json, root);
    return `${kindOf(items, root, `${where}[]`)}[]`;
  });
  return [...names.filter((n) => n !== "null"), ...names.filter((n) => n === "null")].join("|");
}

function resolve(schema: Json, root: Json): Json {
  if (typeof schema.$ref !== "string") return schema;
  assert.match(schema.$ref, /^#\//, "a local $ref");
  return schema.$ref.slice(2).split("/").reduce<Json>((node, key) => node[key] as Json, root);
}

/** The shape the schema gives an object's properties: required where it fills a default in (or requires the key). */
function schemaShape(schema: Json, root: Json, where = ""): Json {
  assert.is(schema.additionalProperties, false, `${where || "the root"}: additionalProperties is false, so the type's keys are all there is`);
  const required = (schema.required as string[] | undefined) ?? [];
  const out: Json = {};
  for (const [key, raw] of Object.entries(schema.properties as Record<string, Json>)) {
    const sub = resolve(raw, root);
    const path = where ? `${where}.${key}` : key;
    const presence = "default" in raw || "default" in sub || required.includes(key) ? "required" : "optional";
    const kind = kindOf(sub, root, path);
    out[key] = kind === "object" && sub.properties ? { is: `${presence} object`, fields: schemaShape(sub, root, path) } : `${presence} ${kind}`;
  }
  return out;
}

const SHAPE_FILE = fileURLToPath(new URL("helpers/user-config-shape.ts", import.meta.url));
const TSCONFIG = fileURLToPath(new URL("../tsconfig.json", import.meta.url));

/**
 * Type errors in the shape file and in variants of its text (files beside it that exist only in
 * memory), one list per text: what `npm run typecheck` would say of each. One program checks them
 * all, without Node's types (the shape file needs none; with them the check takes seconds).
 */
function typeErrors(variants: string[]): string[][] {
  const { config } = ts.readConfigFile(TSCONFIG, ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, fileURLToPath(new URL("..", import.meta.url)));
  const names = variants.map((_, i) => SHAPE_FILE.replace(/\.ts$/, `.variant-${i}.ts`));
  const base = ts.createCompilerHost(options);
  const host: ts.CompilerHost = {
    ...base,
    fileExists: (name) => names.includes(ts.sys.resolvePath(name)) || base.fileExists(name),
    getSourceFile: (name, language, ...rest) => {
      const i = names.indexOf(ts.sys.resolvePath(name));
      return i >= 0 ? ts.createSourceFile(name, variants[i], language) : base.getSourceFile(name, language, ...rest);
    },
  };
  const program = ts.createProgram({ rootNames: [SHAPE_FILE, ...names], options: { ...options, types: [], noEmit: true }, host });
  return [SHAPE_FILE, ...names].map((name) => {
    const file = program.getSourceFile(name)!;
    return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n").split("\n")[0]);
  });
}

test("the UserConfig type and the user-config schema have the same keys, optionality and kinds at every depth", () => {
  const schema = schemas.userConfig as Json;
  assert.equal(schemaShape(schema, schema), USER_CONFIG_SHAPE as unknown as Json);
});

test("USER_CONFIG_SHAPE compiles against UserConfig, and would not with a key gained, lost or changed", () => {
  const text = readFileSync(SHAPE_FILE, "utf8");
  const edits: [string, string][] = [
    ['  jobs: "required number",\n', ""],  // the type has a key the shape lacks
    ['  jobs: "required number",\n', '  jobs: "required number",\n  colour: "optional string",\n'],  // a key the type lacks
    ['      arrays: "required boolean",', '      arrays: "optional boolean",'],  // optionality
    ['  python: "optional string",', '  python: "optional number",'],  // kind
  ];
  for (const [from] of edits) assert.ok(text.includes(from), `the edit finds ${JSON.stringify(from)}`);
  const [self, ...edited] = typeErrors(edits.map(([from, to]) => text.replace(from, to)));
  assert.equal(self, [], "test/helpers/user-config-shape.ts compiles");
  edits.forEach(([from, to], i) => assert.ok(edited[i].length > 0, `${JSON.stringify(from)} → ${JSON.stringify(to)} does not compile`));
});

test("the optional keys are exactly the ones the schema fills no default into", () => {
  const filled: Json = {};
  assert.ok(validators.userConfig(filled));
  const required = (shape: Json, value: Json, where: string) => {
    for (const [key, node] of Object.entries(shape)) {
      const is = typeof node === "string" ? node : (node as { is: string }).is;
      assert.is(key in value, is.startsWith("required"), `${where}${key}: ${is}, and an empty .lem-config.yaml ${key in value ? "fills" : "leaves"} it`);
      if (typeof node !== "string" && key in value) required((node as { fields: Json }).fields, value[key] as Json, `${where}${key}.`);
    }
  };
  required(USER_CONFIG_SHAPE as unknown as Json, filled, "");
});

test.run();
