import { type Static, Type } from "@sinclair/typebox";

/**
 * `training.remote`: training, evaluation and backtests on other machines (`kensa worker`). Worker tokens are kept as
 * SHA-256 digests, so the config file holds no secret a reader could use; `kensa worker token`
 * prints a new token and the line to add here.
 */
export const RemoteWorkersConfigSchema = Type.Object(
  {
    /** false: this hub trains nothing itself and leaves every training job to workers */
    localTraining: Type.Boolean({ default: true }),
    /**
     * false: this hub evaluates no model itself; evaluate jobs wait for a worker that runs them
     * (`kensa worker` does unless told `--jobs train`). The gate stays local: it reads the evaluations
     */
    localEvaluation: Type.Boolean({ default: true }),
    /**
     * false: this hub replays no backtest itself; backtest jobs wait for a worker that runs them
     * (`kensa worker` does unless its `--jobs` leaves out backtest)
     */
    localBacktests: Type.Boolean({ default: true }),
    /**
     * false: this hub runs no dataset import itself; the uploaded archive is stored as a blob and
     * the import waits for a worker that runs imports, which commits through the hub in one transaction
     */
    localImports: Type.Boolean({ default: true }),
    /** false: this hub builds no queued export itself (`POST /projects/:id/exports`); workers that run exports do */
    localExports: Type.Boolean({ default: true }),
    /** worker tokens this hub accepts, by name (the name is recorded as who trained) */
    tokens: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" }),
          /** lower-case hex SHA-256 of the token */
          sha256: Type.String({ pattern: "^[a-f0-9]{64}$" }),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    /** ms a worker's claim lasts unless renewed; a worker silent for longer loses the job, which is queued again */
    leaseMs: Type.Integer({ minimum: 300, maximum: 3_600_000, default: 60_000 }),
    /** what a trainer needs of a worker, by trainer name: workers lacking it never claim its jobs */
    requirements: Type.Record(
      Type.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" }),
      Type.Object(
        {
          cuda: Type.Optional(Type.Boolean()),
          minCpuCores: Type.Optional(Type.Integer({ minimum: 1 })),
          minMemoryMb: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
      { default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type RemoteWorkersConfig = Static<typeof RemoteWorkersConfigSchema>;
