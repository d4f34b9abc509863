// deploy/Dockerfile.hub and deploy/compose.yaml cannot be built or started here (no Docker
// daemon), so this checks what they rely on: the files they copy and mount, the CLI command and
// flags they run, the config keys, ports, users and passwords that must agree between services,
// and the environment variables they set. Renaming a flag, a config key or a file breaks it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { systemRoutes } from "@kensa/contracts";
import { repoRoot } from "@kensa/testkit";
import type { TSchema } from "@sinclair/typebox";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { HubConfigSchema, loadHubConfig, parseHubConfig } from "../../apps/hub/src/config.js";
import {
  envOf,
  execForm,
  flagsOf,
  flagValue,
  kensaHelp,
  lastOf,
  parseDockerfile,
  parseMosquittoConf,
  readDeploy,
  sourcesMention,
  stageNames,
} from "./deploy-parse.js";

interface Service {
  build?: { context: string; dockerfile: string; target?: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parseYaml(readDeploy("compose.yaml")) as { services: Record<string, Service>; volumes: object };
const svc = (name: string) => {
  const s = compose.services[name];
  if (!s) throw new Error(`compose.yaml has no service ${name}`);
  return s;
};
const hubDocker = parseDockerfile(readDeploy("Dockerfile.hub"));
/** "host:container[:ro]" → [host, container] */
const mounts = (s: Service) => (s.volumes ?? []).map((v) => v.split(":") as [string, string]);
const published = (s: Service) => (s.ports ?? []).map((p) => p.split(":").map(Number) as [number, number]);

/** Every key path of a config object, checked against the TypeBox schema (records take any key). */
function unknownKeys(value: unknown, schema: TSchema, path = ""): string[] {
  if (!value || typeof value !== "object" || Array.isArray(value)) return [];
  const variants = (schema.anyOf as TSchema[] | undefined) ?? [schema];
  const type = (value as { type?: unknown }).type;
  const variant =
    variants.find((v) => (v.properties as Record<string, TSchema> | undefined)?.type?.const === type) ?? variants[0];
  const props = variant?.properties as Record<string, TSchema> | undefined;
  if (!props) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const sub = props[k];
    return sub ? unknownKeys(v, sub, `${path}/${k}`) : [`${path}/${k}`];
  });
}

describe("deploy/Dockerfile.hub", () => {
  const stages = stageNames(hubDocker);

  it("copies only paths that exist in the repository", () => {
    const copies = hubDocker.filter((i) => i.op === "COPY" && !i.args.startsWith("--from"));
    expect(copies.length).toBeGreaterThan(3);
    for (const c of copies) {
      const sources = c.args.split(/\s+/).slice(0, -1);
      for (const s of sources) expect(existsSync(join(repoRoot, s)), `COPY ${s}`).toBe(true);
    }
    for (const c of hubDocker.filter((i) => i.op === "COPY" && i.args.startsWith("--from"))) {
      expect(stages, c.args).toContain(/--from=(\S+)/.exec(c.args)?.[1]);
    }
  });

  it("leaves the host's node_modules and builds out of the context (other architectures' binaries)", () => {
    for (const f of ["Dockerfile.hub.dockerignore", "Dockerfile.agent.dockerignore"]) {
      const ignored = readDeploy(f).split("\n");
      expect(ignored, f).toEqual(expect.arrayContaining(["**/node_modules", "**/dist"]));
      const copied = [...readDeploy(f.replace(".dockerignore", "")).matchAll(/^COPY (?!--from)(.*) \S+$/gm)].flatMap(
        (m) => (m[1] ?? "").split(/\s+/).map((p) => p.replace(/\/$/, "")),
      );
      for (const p of copied) expect(ignored, `${f} must not leave out ${p}`).not.toContain(p);
    }
  });

  it("runs scripts and workspaces that exist, installing without onnxruntime's download", () => {
    const runs = hubDocker.filter((i) => i.op === "RUN").map((i) => i.args);
    for (const r of runs) {
      for (const m of r.matchAll(/\bnode (scripts\/\S+)/g))
        expect(existsSync(join(repoRoot, m[1] ?? "")), m[1]).toBe(true);
    }
    expect(runs.some((r) => r.includes("scripts/bootstrap.mjs"))).toBe(true);
    expect(envOf(hubDocker, ["build"]).ONNXRUNTIME_NODE_INSTALL).toBe("skip");
    expect(readDeploy("../scripts/bootstrap.mjs")).toContain("ONNXRUNTIME_NODE_INSTALL");
    // better-sqlite3's source build needs these in the build stage
    const buildRun = runs.find((r) => r.includes("apt-get install")) ?? "";
    for (const p of ["python3", "make", "g++"]) expect(buildRun.split(/\s+/)).toContain(p);
  });

  it("has the hub (default) and hub-trainer targets, the trainer with Debian's PyTorch", () => {
    expect(stages).toEqual(expect.arrayContaining(["build", "hub", "hub-trainer"]));
    expect(hubDocker.filter((i) => i.op === "FROM").at(-1)?.args).toBe("hub");
    const trainerRun = hubDocker.find((i) => i.stage === "hub-trainer" && i.op === "RUN")?.args ?? "";
    for (const p of ["python3-torch", "python3-torchvision", "python3-onnx"]) expect(trainerRun).toContain(p);
    const python = envOf(hubDocker, ["hub-trainer"]).KENSA_PYTHON;
    expect(python).toBe("/usr/bin/python3");
    expect(existsSync(join(repoRoot, "trainers/torch/kensa_trainer"))).toBe(true);
  });

  it("runs `kensa hub` with flags the CLI has, as a non-root user, on the ports and volume it declares", async () => {
    const entry = execForm(lastOf(hubDocker, "ENTRYPOINT", "hub")?.args ?? "");
    const cmd = execForm(lastOf(hubDocker, "CMD", "hub")?.args ?? "");
    const main = entry.at(-1) ?? "";
    const workdir = lastOf(hubDocker, "WORKDIR", "hub")?.args ?? "";
    expect(main.startsWith(`${workdir}/`)).toBe(true);
    expect(existsSync(join(repoRoot, main.slice(workdir.length + 1))), main).toBe(true);
    expect(entry.slice(0, 3)).toEqual(["node", "--import", "tsx"]);

    expect(cmd[0]).toBe("hub");
    const known = await kensaHelp("hub");
    for (const f of flagsOf(cmd)) expect(known, `kensa hub ${f}`).toContain(f);
    const defaults = parseHubConfig({});
    const expose = (lastOf(hubDocker, "EXPOSE", "hub")?.args ?? "").split(/\s+/).map(Number);
    expect(expose).toEqual([defaults.http.port, defaults.mqtt.embedded.port]);
    expect(Number(flagValue(cmd, "--port"))).toBe(defaults.http.port);
    expect(Number(flagValue(cmd, "--mqtt-port"))).toBe(defaults.mqtt.embedded.port);
    expect(execForm(lastOf(hubDocker, "VOLUME", "hub")?.args ?? "")).toEqual([flagValue(cmd, "--data-dir")]);
    expect(lastOf(hubDocker, "USER", "hub")?.args).not.toMatch(/^(root|0)$/);
    expect(lastOf(hubDocker, "USER", "hub-trainer")?.args).not.toMatch(/^(root|0)$/);
  });

  it("checks health on the hub's public /health at its HTTP port", () => {
    const check = lastOf(hubDocker, "HEALTHCHECK", "hub")?.args ?? "";
    const url = /fetch\('([^']+)'\)/.exec(execForm(check).join(" "))?.[1] ?? "";
    expect(new URL(url).pathname).toBe(systemRoutes.health.path);
    expect(systemRoutes.health.auth).toBe("public");
    expect(Number(new URL(url).port)).toBe(parseHubConfig({}).http.port);
  });

  it("sets only environment variables the code reads", () => {
    for (const name of Object.keys(envOf(hubDocker)).filter((n) => n.startsWith("KENSA_"))) {
      expect(sourcesMention(name), name).toBe(true);
    }
  });
});

describe("deploy/compose.yaml", () => {
  const hub = svc("hub");
  const configMount = mounts(hub).find(([, target]) => target === flagValue(hub.command ?? [], "--config"));

  it("builds the hub from a Dockerfile and target that exist", () => {
    const build = hub.build;
    expect(build).toBeDefined();
    const context = join(repoRoot, "deploy", build?.context ?? "");
    expect(context).toBe(repoRoot);
    expect(existsSync(join(context, build?.dockerfile ?? ""))).toBe(true);
    expect(stageNames(hubDocker)).toContain(build?.target);
  });

  it("runs `kensa hub --config` with flags the CLI has, on a mounted file that is a valid hub config", async () => {
    const known = await kensaHelp("hub");
    for (const f of flagsOf(hub.command ?? [])) expect(known, `kensa hub ${f}`).toContain(f);
    expect(configMount, "the --config file is mounted").toBeDefined();
    const file = join(repoRoot, "deploy", configMount?.[0] ?? "");
    expect(existsSync(file)).toBe(true);
    const raw = JSON.parse(readDeploy(configMount?.[0] ?? "")) as unknown;
    expect(unknownKeys(raw, HubConfigSchema)).toEqual([]);
    const config = await loadHubConfig(file, {});
    expect(config.database.type).toBe("postgres");
    expect(config.mqtt.embedded.enabled).toBe(false);
    expect(config.mqtt.dynsec.enabled).toBe(true);
  });

  it("agrees with itself: ports, hosts, the data volume, PostgreSQL's and Mosquitto's accounts", async () => {
    const config = await loadHubConfig(join(repoRoot, "deploy", configMount?.[0] ?? ""), {});
    // the hub's HTTP port, published on the port its publicUrl names
    const [hubHost, hubContainer] = published(hub)[0] ?? [];
    expect(hubContainer).toBe(config.http.port);
    expect(Number(new URL(config.http.publicUrl ?? "").port)).toBe(hubHost);
    expect(mounts(hub).map(([, t]) => t)).toContain(config.dataDir);
    expect(execForm(lastOf(hubDocker, "VOLUME", "hub")?.args ?? "")).toContain(config.dataDir);

    // PostgreSQL: the URL's host is the service, its account the one the image creates
    const pg = new URL(config.database.type === "postgres" ? config.database.url : "");
    const pgEnv = svc(pg.hostname).environment ?? {};
    expect([pg.username, pg.password, pg.pathname.slice(1), pg.port]).toEqual([
      pgEnv.POSTGRES_USER,
      pgEnv.POSTGRES_PASSWORD,
      pgEnv.POSTGRES_DB,
      "5432",
    ]);

    // Mosquitto: the URL's host is the service, its port the listener, published where agents are sent
    const broker = new URL(config.mqtt.url ?? "");
    const mosquitto = svc(broker.hostname);
    const confMount = mounts(mosquitto).find(([, t]) => t === "/mosquitto/config/mosquitto.conf");
    const conf = parseMosquittoConf(readDeploy(confMount?.[0] ?? "missing"));
    expect(Number(conf.listener)).toBe(Number(broker.port));
    const [mqttHost, mqttContainer] = published(mosquitto)[0] ?? [];
    expect(mqttContainer).toBe(Number(broker.port));
    expect(Number(new URL(config.mqtt.publicUrl ?? "").port)).toBe(mqttHost);
    expect(Number(conf.max_packet_size)).toBe(config.limits.mqttPacketBytes);
    expect(conf.allow_anonymous).toBe("false");
    expect(conf.plugin).toMatch(/mosquitto_dynamic_security\.so$/);

    // the dynsec file: created by mosquitto-init on the volume Mosquitto reads, with the hub's admin
    const init = svc("mosquitto-init");
    const initScript = (init.command ?? []).join(" ");
    const dynsecFile = conf.plugin_opt_config_file ?? "";
    expect(initScript).toContain(`mosquitto_ctrl dynsec init ${dynsecFile} ${config.mqtt.dynsec.adminUsername} `);
    const dataVolume = mounts(mosquitto).find(([, t]) => dynsecFile.startsWith(`${t}/`));
    expect(dataVolume).toBeDefined();
    expect(mounts(init)).toContainEqual(dataVolume);
    expect(init.environment?.DYNSEC_ADMIN_PASSWORD).toBe(config.mqtt.dynsec.adminPassword);
    expect(mosquitto.environment?.DYNSEC_ADMIN_PASSWORD).toBe(config.mqtt.dynsec.adminPassword);
    expect(mosquitto.depends_on?.["mosquitto-init"]?.condition).toBe("service_completed_successfully");
    const health = (mosquitto.healthcheck?.test ?? []).join(" ");
    expect(health).toContain(`-u ${config.mqtt.dynsec.adminUsername} `);
    expect(health).toContain(`-p ${conf.listener} `);

    // MinIO: the endpoint's host is the service, its root account the hub's key, the bucket made by minio-init
    expect(config.blobs.kind).toBe("s3");
    const s3 = config.blobs.s3!;
    const endpoint = new URL(s3.endpoint ?? "");
    const minio = svc(endpoint.hostname);
    expect(endpoint.port).toBe("9000");
    expect(s3.forcePathStyle).toBe(true);
    expect(s3.accessKeyId).toBe(minio.environment?.MINIO_ROOT_USER);
    expect(hub.environment?.KENSA_S3_SECRET_ACCESS_KEY).toBe(minio.environment?.MINIO_ROOT_PASSWORD);
    const minioInit = svc("minio-init");
    const initCmd = ((minioInit as { entrypoint?: string[] }).entrypoint ?? []).join(" ");
    expect(initCmd).toContain(`http://${endpoint.hostname}:${endpoint.port} `);
    expect(initCmd).toMatch(new RegExp(`mc mb --ignore-existing kensa/${s3.bucket}$`));
    expect(minioInit.environment).toEqual(minio.environment);
    expect(minioInit.depends_on?.[endpoint.hostname]?.condition).toBe("service_healthy");
  });

  it("starts the hub after healthy dependencies, with named volumes and variables the code reads", () => {
    for (const [name, dep] of Object.entries(hub.depends_on ?? {})) {
      const s = compose.services[name];
      expect(s, name).toBeDefined();
      // a long-running service must be healthy; a one-shot init job (no ports) must have finished
      if (dep.condition === "service_completed_successfully") expect(s?.ports, `${name} is one-shot`).toBeUndefined();
      else {
        expect(s?.healthcheck, `${name} healthcheck`).toBeDefined();
        expect(dep.condition).toBe("service_healthy");
      }
    }
    const named = Object.keys(compose.volumes);
    for (const s of Object.values(compose.services)) {
      for (const [source] of mounts(s)) {
        if (source.startsWith(".")) expect(existsSync(join(repoRoot, "deploy", source)), source).toBe(true);
        else expect(named, source).toContain(source);
      }
    }
    for (const name of Object.keys(hub.environment ?? {})) expect(sourcesMention(name), name).toBe(true);
  });
});
