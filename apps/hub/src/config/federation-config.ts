import { type Static, Type } from "@sinclair/typebox";

/**
 * `federation`: this hub as a site of a central hub (docs/operations.md, "Multi-site"). Without
 * `central` the hub is standalone, or a central hub: any hub accepts sites registered with
 * `kensa site add`. The site token comes from `tokenFile` (mode 0600) or `token`, else env
 * KENSA_SITE_TOKEN; it is never logged. An https central signed by a private CA: start the site
 * hub with NODE_EXTRA_CA_CERTS naming the CA file.
 */
export const FederationConfigSchema = Type.Object(
  {
    central: Type.Optional(
      Type.Object(
        {
          /** the central hub's base URL, as this site reaches it */
          url: Type.String({ pattern: "^https?://" }),
          /** this site's id on central (`kensa site add <id>`) */
          siteId: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
          token: Type.Optional(Type.String({ pattern: "^kensa_site_" })),
          tokenFile: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** seconds between syncs while the uplink is up; after a failure the wait doubles up to `maxBackoffSeconds` */
    intervalSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 86_400, default: 30 }),
    maxBackoffSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 86_400, default: 300 }),
    /**
     * ms a row must be old before it is pushed: rows are read in (created_at, id) order behind a
     * cursor, and a transaction that committed later than a newer row's would otherwise be
     * passed over. Ingest and verdict transactions take milliseconds; this is a wide margin.
     */
    settleMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 5000 }),
    /** incidents or verdicts per push (central takes at most 500) */
    batch: Type.Integer({ minimum: 1, maximum: 500, default: 200 }),
    /** ms one request to central may take */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
    upstream: Type.Object(
      {
        /** push each incident's frame with it (bandwidth: one JPEG per incident) */
        frames: Type.Boolean({ default: false }),
        /**
         * ms an incident whose device said a frame follows waits for it before it is pushed
         * (the stream behind it waits too); after this it is pushed without its frame
         */
        frameWaitMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 30_000 }),
        /**
         * push labelled samples (image, masks and current label) into central's datasets; a
         * relabel is sent again. Off: no sample leaves the site
         */
        samples: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type FederationConfig = Static<typeof FederationConfigSchema>;
