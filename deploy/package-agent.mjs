#!/usr/bin/env node
// Packs the edge agent into a tarball for a device without a checkout:
//
//   node deploy/package-agent.mjs [--out <dir>] [--build | --no-build]
//
// writes <out>/kensa-agent-<version>.tar.gz (out: dist/ of the repository by default) holding
// kensa-agent/ with the bundled agent (apps/agent/dist, made by apps/agent/build.mjs), its
// launcher, a package.json naming the npm packages the bundle leaves external (native addons:
// sharp, onnxruntime-node, better-sqlite3; and mqtt, prom-client, typebox) at the versions
// installed here, the systemd unit (deploy/kensa-agent.service), an example config and
// INSTALL.md. The tarball has no native code: `npm install` on the device fetches the binaries of
// its architecture (linux-x64, linux-arm64). Plain JavaScript: it runs with no TypeScript loader.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dirname, "..");
const agentDir = join(root, "apps", "agent");

/** Bare package names the bundle imports (node: built-ins and relative paths left out). */
export function externalPackages(bundleText) {
  const names = new Set();
  // `from` only in an import or export statement: a message ending in "… from" is no import
  const imports = /(?:^\s*(?:import|export)\b[^;"]*?\bfrom|\bimport\s*\(|\brequire\s*\()\s*"([^".][^"]*)"/gm;
  for (const m of bundleText.matchAll(imports)) {
    const spec = m[1];
    if (spec.startsWith("node:")) continue;
    const parts = spec.split("/");
    names.add(spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]);
  }
  return [...names].sort();
}

/** The version of `name` installed in the repository (what the agent is tested with). */
function installedVersion(name) {
  const file = [
    join(agentDir, "node_modules", name, "package.json"),
    join(root, "node_modules", name, "package.json"),
  ].find(existsSync);
  if (!file) throw new Error(`${name} is imported by the agent bundle but not installed; run npm install first`);
  return JSON.parse(readFileSync(file, "utf8")).version;
}

const installGuide = (version) => `# Kensa agent ${version}

On the device (Debian, Ubuntu, Raspberry Pi OS; Node.js 20 or later at /usr/bin/node):

    sudo useradd --system --home-dir /var/lib/kensa-agent --shell /usr/sbin/nologin kensa
    sudo mkdir -p /opt/kensa-agent /etc/kensa
    sudo tar -xzf kensa-agent-${version}.tar.gz -C /opt/kensa-agent --strip-components=1
    cd /opt/kensa-agent && sudo env ONNXRUNTIME_NODE_INSTALL=skip npm install --omit=dev --no-audit --no-fund
    sudo cp agent.example.json /etc/kensa/agent.json        # then edit deviceId, hubUrl, mqttUrl, sources
    sudo install -m 600 /dev/null /etc/kensa/agent.env      # then write KENSA_DEVICE_SECRET=<secret>
    sudo -u kensa env KENSA_DEVICE_SECRET=<secret> node /opt/kensa-agent/bin/kensa-agent.mjs --config /etc/kensa/agent.json --validate-config
    sudo cp kensa-agent.service /etc/systemd/system/
    sudo systemctl daemon-reload && sudo systemctl enable --now kensa-agent
    journalctl -u kensa-agent -f

npm install compiles better-sqlite3 when no prebuilt binary fits the device (it then needs
python3, make and g++). The data dir is /var/lib/kensa-agent (systemd's StateDirectory); the
status page listens on status.port (8090) of the config.
`;

/**
 * Builds the bundle (`build`: true always, "auto" when it is missing or older than its sources,
 * false never) and packs; returns the tarball's path.
 */
export async function packageAgent({ out = join(root, "dist"), build = "auto" } = {}) {
  const { bundleIsFresh } = await import("../apps/agent/bundle-freshness.mjs");
  if (build === true || (build === "auto" && !bundleIsFresh()))
    execFileSync(process.execPath, [join(agentDir, "build.mjs")], { stdio: "inherit" });
  const bundle = join(agentDir, "dist", "kensa-agent.mjs");
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build -w @kensa/agent`);
  const agentPkg = JSON.parse(readFileSync(join(agentDir, "package.json"), "utf8"));
  const dependencies = Object.fromEntries(
    externalPackages(readFileSync(bundle, "utf8")).map((name) => [name, installedVersion(name)]),
  );
  const stage = mkdtempSync(join(tmpdir(), "kensa-agent-pack-"));
  try {
    const top = join(stage, "kensa-agent");
    mkdirSync(join(top, "bin"), { recursive: true });
    mkdirSync(join(top, "dist"));
    cpSync(join(agentDir, "bin", "kensa-agent.mjs"), join(top, "bin", "kensa-agent.mjs"));
    cpSync(join(agentDir, "bundle-freshness.mjs"), join(top, "bundle-freshness.mjs"));
    // systemd runs the launcher, which starts this agent or a release installed over the air
    cpSync(join(agentDir, "launcher.mjs"), join(top, "launcher.mjs"));
    cpSync(bundle, join(top, "dist", "kensa-agent.mjs"));
    if (existsSync(`${bundle}.map`)) cpSync(`${bundle}.map`, join(top, "dist", "kensa-agent.mjs.map"));
    cpSync(join(root, "deploy", "kensa-agent.service"), join(top, "kensa-agent.service"));
    cpSync(join(root, "deploy", "agent.example.json"), join(top, "agent.example.json"));
    const pkg = {
      name: "kensa-agent",
      version: agentPkg.version,
      private: true,
      type: "module",
      description: "Kensa edge agent (bundled)",
      license: "Apache-2.0",
      engines: { node: ">=20.9" },
      bin: { "kensa-agent": "./bin/kensa-agent.mjs" },
      dependencies,
      optionalDependencies: agentPkg.optionalDependencies ?? {},
    };
    writeFileSync(join(top, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
    writeFileSync(join(top, "INSTALL.md"), installGuide(agentPkg.version));
    mkdirSync(out, { recursive: true });
    const tarball = resolve(out, `kensa-agent-${agentPkg.version}.tar.gz`);
    execFileSync("tar", ["-czf", tarball, "--owner=0", "--group=0", "-C", stage, "kensa-agent"]);
    return tarball;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      build: { type: "boolean" },
      "no-build": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write("Usage: node deploy/package-agent.mjs [--out <dir>] [--build | --no-build]\n");
  } else {
    const build = values.build ? true : values["no-build"] ? false : "auto";
    const tarball = await packageAgent({ out: values.out ? resolve(values.out) : undefined, build });
    process.stdout.write(`${tarball}\n`);
  }
}
