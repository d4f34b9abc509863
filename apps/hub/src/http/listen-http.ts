import { KensaError } from "@kensa/contracts";
import type { FastifyInstance } from "fastify";

/** Binds the HTTP(S) listener; resolves with the bound port. Throws KENSA_ERR_PORT_IN_USE. */
export async function listenHttp(app: FastifyInstance, host: string, port: number): Promise<number> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new KensaError(
        "KENSA_ERR_PORT_IN_USE",
        `http listener: port ${port} on ${host} is already in use, probably by another server (another hub?); ` +
          "give the hub another port with --http-port or http.port in the hub config",
        { listener: "http", host, port },
      );
    }
    throw err;
  }
  const addr = app.server.address();
  return typeof addr === "object" && addr ? addr.port : port;
}
