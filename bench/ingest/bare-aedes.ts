/** A plain Aedes broker (no auth, no storage) on a free port of 127.0.0.1: the bench's baseline broker. */
import { createServer } from "node:net";
import { Aedes } from "aedes";

export type BareAedesMessage = { type: "started"; port: number };

// the embedded broker's emitter setting (no global delivery limit; see embedded-broker.ts), so the
// baseline differs from it only by what the hub adds
const aedes = await Aedes.createBroker({ concurrency: 0 });
const server = createServer(aedes.handle);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const address = server.address();
process.send?.({ type: "started", port: typeof address === "object" && address ? address.port : 0 });
const close = () => aedes.close(() => server.close(() => process.exit(0)));
process.on("message", (m: { type?: string }) => m.type === "close" && close());
process.on("disconnect", close);
