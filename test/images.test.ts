import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isIgnored, parseDockerignore } from "../src/exec/docker/build-context.js";
import {
  PACKAGE_ROOT, buildArgv, defaultImageFor, ensureImage, ImageError, imageDigest, imageHash, userImage,
  type ImageEvent, type ImageNode,
} from "../src/exec/docker/images.js";
import { tempDir } from "./helpers/temp.js";
import { IMAGE_PYTHON } from "../src/exec/docker/wheelhouse.js";

/** A copy of lem's docker/ folder to edit freely; returns the root that holds it. */
function lemCopy(): string {
  const root = tempDir("lem-images-");
  cpSync(join(PACKAGE_ROOT, "docker"), join(root, "docker"), { recursive: true });
  return root;
}
const cpu = (root: string) => defaultImageFor("pytorch", { gpu: false, root });

test("an image's hash is stable and does not depend on where lem is installed", () => {
  const root = lemCopy();
  assert.is(cpu(root).hash, cpu(root).hash);
  assert.is(cpu(root).hash, cpu(lemCopy()).hash);
  assert.is(cpu(root).hash, cpu(PACKAGE_ROOT).hash);
});

test("editing a harness file changes the pytorch image's hash", () => {
  const root = lemCopy();
  const before = cpu(root);
  appendFileSync(join(root, "docker/harness/lem_harness/__init__.py"), "\n# edited\n");
  const after = cpu(root);
  assert.is.not(after.hash, before.hash);
  assert.is.not(after.tag, before.tag);
  assert.is(after.dependsOn!.hash, before.dependsOn!.hash, "the base does not contain the harness");
});

test("adding a harness file changes the hash", () => {
  const root = lemCopy();
  const before = cpu(root).hash;
  writeFileSync(join(root, "docker/harness/lem_harness/new_module.py"), "X = 1\n");
  assert.is.not(cpu(root).hash, before);
});

test("editing the Dockerfile changes the hash; only its own backend's", () => {
  const root = lemCopy();
  const [torch, vllm] = [cpu(root).hash, defaultImageFor("vllm", { gpu: true, root }).hash];
  appendFileSync(join(root, "docker/Dockerfile.pytorch"), "\n# edited\n");
  assert.is.not(cpu(root).hash, torch);
  assert.is(defaultImageFor("vllm", { gpu: true, root }).hash, vllm);
});

test("a build argument changes the hash; their order does not", () => {
  const node = cpu(lemCopy());
  const base = imageHash(node);
  assert.is(base, node.hash);
  assert.is.not(imageHash({ ...node, buildArgs: { ...node.buildArgs, BASE: "other" } }), base);
  assert.is.not(imageHash({ ...node, wheels: "3.12" }), base);
  assert.is.not(imageHash({ ...node, buildArgs: { ...node.buildArgs, EXTRA: "1" } }), base);
  const reversed = Object.fromEntries(Object.entries(node.buildArgs).reverse());
  assert.is(imageHash({ ...node, buildArgs: reversed }), base);
});

test("files docker would not send leave the hash alone", () => {
  const root = lemCopy();
  const before = cpu(root).hash;
  const harness = join(root, "docker/harness");
  mkdirSync(join(harness, "lem_harness/__pycache__"), { recursive: true });
  writeFileSync(join(harness, "lem_harness/__pycache__/config.cpython-313.pyc"), "bytecode");
  writeFileSync(join(harness, "lem_harness/stale.pyc"), "bytecode");
  mkdirSync(join(harness, "tests"), { recursive: true });
  writeFileSync(join(harness, "tests/test_new.py"), "def test(): pass\n");
  appendFileSync(join(root, "docker/compose.yaml"), "\n# edited\n");
  appendFileSync(join(root, "docker/PROTOCOL.md"), "\nedited\n");
  writeFileSync(join(root, "docker/notes.txt"), "unrelated");
  assert.is(cpu(root).hash, before);
});

test(".dockerignore rules: last match wins, folders cover their contents, ! re-includes", () => {
  const rules = parseDockerignore("# comment\n*\n!harness\n**/__pycache__\n**/*.pyc\nharness/tests\n");
  assert.ok(isIgnored("compose.yaml", rules));
  assert.ok(isIgnored("harnessy/x.py", rules));
  assert.not.ok(isIgnored("harness/lem_harness/config.py", rules));
  assert.ok(isIgnored("harness/lem_harness/__pycache__/config.cpython-313.pyc", rules));
  assert.ok(isIgnored("harness/a/b/c.pyc", rules));
  assert.ok(isIgnored("harness/tests/helpers.py", rules));
  assert.not.ok(isIgnored("harness/testsuite.py", rules));
  assert.not.ok(isIgnored("anything", parseDockerignore("")));
});

test("pytorch builds on the offline Debian base, itself a node, with wheels for its Python", () => {
  const root = lemCopy();
  const node = cpu(root);
  assert.is(node.backend, "pytorch");
  assert.match(node.tag, /^lem-pytorch:[0-9a-f]{12}$/);
  const base = node.dependsOn!;
  assert.is(base.backend, "base");
  assert.match(base.tag, /^lem-debian:bookworm-minbase-[0-9a-f]{12}$/);
  assert.is(base.script, join(root, "docker/build-base.sh"));
  assert.equal(node.buildArgs, { BASE: base.tag });
  assert.is(node.wheels, IMAGE_PYTHON);
  // The base script is part of the chain: editing it changes the base and what builds on it.
  appendFileSync(join(root, "docker/build-base.sh"), "\n# edited\n");
  const after = cpu(root);
  assert.is.not(after.dependsOn!.hash, base.hash);
  assert.is.not(after.hash, node.hash);
});

test("editing the pinned requirements changes the pytorch image's hash", () => {
  const root = lemCopy();
  const before = cpu(root).hash;
  appendFileSync(join(root, "docker/harness/requirements.txt"), "\nsix==1.17.0\n");
  assert.is.not(cpu(root).hash, before);
});

test("with a GPU, pytorch is the same image (the host pip picks torch's build); vllm has its own", () => {
  const root = lemCopy();
  const gpu = defaultImageFor("pytorch", { gpu: true, root });
  assert.is(gpu.hash, cpu(root).hash);
  const vllm = defaultImageFor("vllm", { gpu: true, root });
  assert.match(vllm.tag, /^lem-vllm:[0-9a-f]{12}$/);
  assert.is(vllm.dockerfile, join(root, "docker/Dockerfile.vllm"));
});

test("the docker build command names the Dockerfile, sorted build args, tag and context", () => {
  const node = cpu(PACKAGE_ROOT);
  const argv = buildArgv(node);
  assert.equal(argv.slice(0, 6), ["build", "--force-rm", "-f", node.dockerfile, "--build-arg", `BASE=${node.buildArgs.BASE}`]);
  assert.equal(argv.slice(-3), ["-t", node.tag, node.context]);
  assert.equal(buildArgv(node, "/tmp/ctx").slice(-1), ["/tmp/ctx"], "an assembled context replaces the folder");
});

test("a docker:<image> spec is the user's image, used by its name", () => {
  const image = userImage("docker:my/lab-image:1.2");
  assert.is(image.tag, "my/lab-image:1.2");
  assert.is(image.external, true);
  assert.is(userImage("my/lab-image:1.2").hash, image.hash);
  assert.is.not(userImage("my/lab-image:1.3").hash, image.hash);
});

// ---- With a real Docker engine -------------------------------------------------------------

const dockerAnswers = spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status === 0;
if (!dockerAnswers) {
  if (process.env.LEM_REQUIRE_DOCKER === "1") {
    test("Docker is required (LEM_REQUIRE_DOCKER=1)", () => assert.unreachable("`docker info` failed"));
  } else {
    console.warn("!! SKIPPING the real image tests in test/images.test.ts: `docker info` failed (set LEM_REQUIRE_DOCKER=1 to fail instead)");
  }
}
const dockerTest = dockerAnswers ? test : test.skip;

dockerTest("a missing docker:<image> is an image-missing error that says lem never pulls", async () => {
  const error = await ensureImage(userImage("docker:lem-test/no-such-image:never")).catch((e: unknown) => e);
  assert.instance(error, ImageError);
  assert.is((error as ImageError).kind, "image-missing");
  assert.match((error as ImageError).fix!, /lem never pulls/);
  assert.is(await imageDigest("lem-test/no-such-image:never"), undefined);
});

dockerTest("a failing build is an image-build error with its last lines and a fix", async () => {
  const context = tempDir("lem-images-bad-");
  writeFileSync(join(context, "Dockerfile"), "FROM scratch\nRUN echo never-runs\n");
  const recipe = { backend: "pytorch" as const, dockerfile: join(context, "Dockerfile"), context, buildArgs: {} };
  const hash = imageHash(recipe);
  const node: ImageNode = { ...recipe, name: "image:bad", hash, tag: `lem-test-bad:${hash}` };
  const error = await ensureImage(node).catch((e: unknown) => e);
  assert.instance(error, ImageError);
  assert.is((error as ImageError).kind, "image-build");
  assert.ok((error as ImageError).stderrTail.length > 0);
  assert.ok((error as ImageError).stderrTail.split("\n").length <= 20);
  assert.ok((error as ImageError).fix);
});

dockerTest("the default CPU image builds offline, is reused, and runs the harness with torch", async () => {
  const node = defaultImageFor("pytorch", { gpu: false });
  const events: ImageEvent[] = [];
  const first = await ensureImage(node, { onEvent: (e) => events.push(e) });
  assert.is(first.tag, node.tag);
  assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
  if (first.built) {
    // Built here: report how long, as the build time is a figure worth knowing.
    const base = events.find((e) => e.tag === node.dependsOn!.tag && e.state !== "building");
    console.log(`   built ${node.tag} in ${first.seconds!.toFixed(1)} s (base: ${base?.state}${base?.seconds ? ` in ${base.seconds.toFixed(1)} s` : ""})`);
    assert.equal(events.filter((e) => e.tag === node.tag).map((e) => e.state), ["building", "built"]);
    assert.ok(base, "the base was ensured first");
  } else {
    assert.equal(events.map((e) => e.state), ["present"]);
  }

  const started = performance.now();
  const second = await ensureImage(node);
  const ms = performance.now() - started;
  assert.is(second.built, false);
  assert.is(second.digest, first.digest);
  assert.ok(ms < 1000, `a present image is found in well under a second (took ${ms.toFixed(0)} ms)`);

  // The same pins as lem's venv: requirements.txt names torch and transformers exactly.
  const pins = Object.fromEntries([...readFileSync(join(PACKAGE_ROOT, "docker/harness/requirements.txt"), "utf8").matchAll(/^(torch|transformers)(?:\[\w+\])?==(\S+)$/gm)].map((m) => [m[1], m[2]]));
  const run = spawnSync("docker", ["run", "--rm", node.tag, "python3", "-c",
    "import torch, transformers, lem_harness, sys; print(torch.__version__.split('+')[0], transformers.__version__, sys.version.split()[0])"],
    { encoding: "utf8", timeout: 120_000 });
  assert.is(run.status, 0, run.stderr);
  const [torch, transformers, python] = run.stdout.trim().split(" ");
  assert.equal([torch, transformers], [pins.torch, pins.transformers]);
  assert.ok(python.startsWith(`${IMAGE_PYTHON}.`), python);
  const labels = spawnSync("docker", ["image", "inspect", "--format", "{{json .Config.Labels}}", node.tag], { encoding: "utf8" });
  assert.match(labels.stdout, /"org\.llenergymeasure\.harness":"1"/);
});

dockerTest("aborting a build stops it and says so", async () => {
  const base = defaultImageFor("pytorch", { gpu: false }).dependsOn!; // present after the test above
  const context = tempDir("lem-images-slow-");
  writeFileSync(join(context, "Dockerfile"), `FROM ${base.tag}\nRUN sleep 60\n`);
  const recipe = { backend: "pytorch" as const, dockerfile: join(context, "Dockerfile"), context, buildArgs: {} };
  const hash = imageHash(recipe);
  const node: ImageNode = { ...recipe, name: "image:slow", hash, tag: `lem-test-slow:${hash}` };
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1500);
  const started = performance.now();
  const error = await ensureImage(node, { signal: controller.signal }).catch((e: unknown) => e);
  assert.instance(error, ImageError);
  assert.is((error as ImageError).kind, "interrupted");
  assert.ok(performance.now() - started < 20_000);
  assert.is(await imageDigest(node.tag), undefined);
});

test.run();
