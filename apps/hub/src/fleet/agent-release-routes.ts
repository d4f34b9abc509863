import { KensaError, agentReleaseRoutes as routes } from "@kensa/contracts";
import fp from "fastify-plugin";
import type { BlobStore } from "../blobstore/blob-store.js";
import { route } from "../http/route.js";
import type { AuditLog } from "../people/audit-log.js";
import type { AgentReleaseService } from "./agent-release-service.js";
import { sendBlob } from "./blob-download.js";

export interface AgentReleasePluginOptions {
  agentReleases: AgentReleaseService;
  blobs: BlobStore;
  audit: AuditLog;
}

/** Upload, inspect and deploy agent releases; devices download a release's manifest and files. */
export const agentReleasePlugin = fp<AgentReleasePluginOptions>(
  async (app, s) => {
    // multipart: fields `version` and `arch`, file `agent`
    route(app, routes.uploadAgentRelease, async (req) => {
      if (!req.isMultipart())
        throw new KensaError(
          "KENSA_ERR_UPLOAD_MISSING_PART",
          "expected multipart/form-data with field version and file agent",
        );
      const fields: Record<string, string> = {};
      let agent: Buffer | null = null;
      for await (const part of req.parts()) {
        if (part.type === "file") {
          if (part.fieldname === "agent" && !agent) agent = await part.toBuffer();
          else part.file.resume();
        } else {
          fields[part.fieldname] = String(part.value);
        }
      }
      const missing = [fields.version ? null : "version", agent ? null : "agent"].filter((m) => m !== null);
      if (missing.length > 0 || !agent || !fields.version)
        throw new KensaError("KENSA_ERR_UPLOAD_MISSING_PART", `missing multipart part(s): ${missing.join(", ")}`, {
          missing,
        });
      const release = await s.agentReleases.upload({ version: fields.version, arch: fields.arch, agent });
      await s.audit.recordRequest(
        req,
        "agent_release.upload",
        { type: "agent_release", id: release.id },
        { version: release.manifest.version, arch: release.manifest.arch },
      );
      return release;
    });
    route(app, routes.getAgentRelease, async (req) => s.agentReleases.get(req.params.id));
    route(app, routes.deployAgentRelease, async (req) => {
      const deviceIds = await s.agentReleases.deploy(req.params.id, req.body);
      await s.audit.recordRequest(
        req,
        "agent_release.deploy",
        { type: "agent_release", id: req.params.id },
        { deviceIds },
      );
      return { deviceIds };
    });
    route(app, routes.agentReleaseManifest, async (req, reply) => {
      await s.agentReleases.get(req.params.id);
      if (!(await sendBlob(req, reply, s.blobs, req.params.id, "application/json")))
        throw new KensaError("KENSA_ERR_AGENT_RELEASE_NOT_FOUND", `agent release ${req.params.id} is missing`);
      return reply;
    });
    route(app, routes.agentReleaseFile, async (req, reply) => {
      const { id, sha } = req.params;
      if (
        !(await s.agentReleases.fileOf(id, sha)) ||
        !(await sendBlob(req, reply, s.blobs, sha, "application/octet-stream"))
      )
        throw new KensaError("KENSA_ERR_AGENT_RELEASE_NOT_FOUND", `agent release ${id} has no file ${sha}`);
      return reply;
    });
  },
  { name: "kensa-agent-releases", dependencies: ["kensa-http"], fastify: "5.x" },
);
